/**
 * Keying rows written before table ids (schema version 7): audit_changes.table_id and key_hash
 * of older rows are NULL after the upgrade (ADD COLUMN without a default: no rewrite, no long
 * lock). storage_key_batch fills them, a batch per call (one short transaction each: storage
 * maintain, `threadline install --apply`); queries find unkeyed rows through the partial legacy
 * indexes meanwhile (storage/legacy-indexes.ts: dropped by maintain once none is left), so every
 * answer is complete before, during and after. `@S` is the quoted storage schema.
 *
 * Which table a legacy row belongs to is decided by its name and time. Each registered table held
 * each of its names over an interval: a former name from the rename before it (or the start of
 * capture, captured_since) to its rename (`until`: the renaming transaction's start, now()), its
 * current name from its last rename on. A row (statement start s = captured_at, transaction start
 * t) can have been written by a table under a name when since <= s and t <= until: a row written
 * in the renaming transaction itself (t = until, s later) still belongs to the table renamed away.
 * Exactly one such table: the row is keyed to it. None (a table dropped or no longer captured,
 * rows from before capture) or more than one (the name changed hands inside the row's own
 * transaction, e.g. a swap of two names, or the row's transaction was open across the rename):
 * the row is not guessed at but keyed to the name only, an id that stands for that name and no
 * registered table (the one it already has, else a new one), so it is found by the name it was
 * recorded under and joins no renamed table's history.
 */
export const KEY_BACKFILL = `
DROP FUNCTION IF EXISTS @S.storage_legacy_table_id(text, text, timestamptz);
-- The registered table that had the name p_schema.p_name when a row was written (statement start
-- p_at, transaction start p_started), or NULL when none or more than one can have.
CREATE OR REPLACE FUNCTION @S.storage_legacy_table_id(p_schema text, p_name text, p_started timestamptz, p_at timestamptz)
RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE WHEN count(DISTINCT h.table_id) = 1 THEN min(h.table_id) END
    FROM (SELECT ct.table_id, f.s, f.n, f.until,
                 coalesce(lag(f.until) OVER (PARTITION BY ct.relid ORDER BY f.o), ct.captured_since) AS since
            FROM @S.captured_tables ct
           CROSS JOIN LATERAL (
             SELECT e ->> 'schema' AS s, e ->> 'name' AS n, (e ->> 'until')::timestamptz AS until, x.o
               FROM jsonb_array_elements(ct.former_names) WITH ORDINALITY AS x(e, o)
             UNION ALL SELECT ct.table_schema, ct.table_name, 'infinity'::timestamptz, 9223372036854775807) f
           WHERE (ct.table_schema = p_schema AND ct.table_name = p_name)
              OR ct.former_names @> jsonb_build_array(jsonb_build_object('schema', p_schema, 'name', p_name))) h
   WHERE h.s = p_schema AND h.n = p_name AND h.since <= p_at AND p_started <= h.until
$fn$;

-- Key up to p_limit unkeyed rows (the oldest of one table at a time, off the legacy table
-- index); returns how many were keyed, 0 when none is left. One run at a time.
CREATE OR REPLACE FUNCTION @S.storage_key_batch(p_limit integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  nm record;
  done integer;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('threadline.storage_key_batch:' || storage));
  CREATE TEMP TABLE IF NOT EXISTS threadline_key_batch (captured_at timestamptz, id bigint, s text, n text, tid integer) ON COMMIT DROP;
  TRUNCATE threadline_key_batch;
  INSERT INTO threadline_key_batch
    SELECT c.captured_at, c.id, c.table_schema, c.table_name,
           @S.storage_legacy_table_id(c.table_schema, c.table_name,
             coalesce((SELECT t.occurred_at FROM @S.audit_transactions t WHERE t.id = c.transaction_id), c.captured_at), c.captured_at)
      FROM (SELECT c.* FROM @S.audit_changes c
             WHERE c.table_id IS NULL ORDER BY c.table_schema, c.table_name, c.captured_at, c.id LIMIT p_limit) c;
  -- Rows no single registered table can have written: keyed to their name only.
  FOR nm IN SELECT DISTINCT b.s, b.n FROM threadline_key_batch b WHERE b.tid IS NULL LOOP
    UPDATE threadline_key_batch b
       SET tid = coalesce(
             (SELECT max(tn.table_id) FROM @S.audit_table_names tn
               WHERE tn.table_schema = nm.s AND tn.table_name = nm.n
                 AND NOT EXISTS (SELECT 1 FROM @S.captured_tables ct WHERE ct.table_id = tn.table_id)),
             nextval(format('%I.audit_table_id_seq', storage))::integer)
     WHERE b.s = nm.s AND b.n = nm.n AND b.tid IS NULL;
    INSERT INTO @S.audit_table_names (table_schema, table_name, table_id)
      SELECT DISTINCT b.s, b.n, b.tid FROM threadline_key_batch b WHERE b.s = nm.s AND b.n = nm.n
      ON CONFLICT DO NOTHING;
  END LOOP;
  UPDATE @S.audit_changes c
     SET table_id = b.tid, key_hash = jsonb_hash_extended(c.table_pk, 0)
    FROM threadline_key_batch b
   WHERE c.captured_at = b.captured_at AND c.id = b.id AND c.table_id IS NULL;
  GET DIAGNOSTICS done = ROW_COUNT;
  RETURN done;
END
$fn$;

-- Capture functions generated before table ids write rows without them (still found, through the
-- legacy indexes): install regenerates them once, so new rows are keyed from the upgrade on.
CREATE OR REPLACE FUNCTION @S.storage_key_capture() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  r record;
  n integer := 0;
BEGIN
  FOR r IN SELECT ct.relid FROM @S.captured_tables ct
            JOIN pg_proc p ON p.proname = ct.function_name AND p.pronamespace = to_regnamespace(quote_ident(storage))
           WHERE p.prosrc NOT LIKE '%key_hash%' ORDER BY ct.table_schema, ct.table_name LOOP
    PERFORM @S.refresh_capture(r.relid, true);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$fn$;
`;
