/**
 * Keying rows written before table ids (schema version 7): audit_changes.table_id and key_hash
 * of older rows are NULL after the upgrade (ADD COLUMN without a default: no rewrite, no long
 * lock). storage_key_batch fills them, a batch per call (one short transaction each: storage
 * maintain, `threadline install --apply`); queries find unkeyed rows through the partial legacy
 * indexes meanwhile, so every answer is complete before, during and after. `@S` is the quoted
 * storage schema.
 *
 * Which table a legacy row belongs to is decided by its name and time: a registered table whose
 * former name it is (renamed after the row was captured), else the registered table of that name,
 * else the id that name already has (a table no longer captured), else a new id for the name.
 */
export const KEY_BACKFILL = `
CREATE OR REPLACE FUNCTION @S.storage_legacy_table_id(p_schema text, p_name text, p_at timestamptz) RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT coalesce(
    (SELECT ct.table_id FROM @S.captured_tables ct, jsonb_array_elements(ct.former_names) f
      WHERE f ->> 'schema' = p_schema AND f ->> 'name' = p_name AND (f ->> 'until')::timestamptz >= p_at
      ORDER BY (f ->> 'until')::timestamptz LIMIT 1),
    (SELECT ct.table_id FROM @S.captured_tables ct WHERE ct.table_schema = p_schema AND ct.table_name = p_name),
    (SELECT max(n.table_id) FROM @S.audit_table_names n WHERE n.table_schema = p_schema AND n.table_name = p_name))
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
  CREATE TEMP TABLE IF NOT EXISTS threadline_key_batch (captured_at timestamptz, id bigint, s text, n text) ON COMMIT DROP;
  TRUNCATE threadline_key_batch;
  INSERT INTO threadline_key_batch
    SELECT c.captured_at, c.id, c.table_schema, c.table_name FROM @S.audit_changes c
     WHERE c.table_id IS NULL ORDER BY c.table_schema, c.table_name, c.captured_at, c.id LIMIT p_limit;
  FOR nm IN SELECT DISTINCT b.s, b.n FROM threadline_key_batch b LOOP
    IF @S.storage_legacy_table_id(nm.s, nm.n, '-infinity') IS NULL THEN
      INSERT INTO @S.audit_table_names (table_schema, table_name, table_id)
        VALUES (nm.s, nm.n, nextval(format('%I.audit_table_id_seq', storage)));
    END IF;
  END LOOP;
  UPDATE @S.audit_changes c
     SET table_id = @S.storage_legacy_table_id(c.table_schema, c.table_name, c.captured_at),
         key_hash = jsonb_hash_extended(c.table_pk, 0)
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
