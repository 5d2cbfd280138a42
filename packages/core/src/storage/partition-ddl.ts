import { isoSql } from '../query/rows.js';

/**
 * Partitions of audit_changes (SPEC section 10). `@S` is the quoted storage schema, `@LIT` its name
 * as a literal. audit_changes is range-partitioned by captured_at when storage_settings.partition
 * is day, week or month (set by install from the config); a DEFAULT partition catches any row no
 * range partition takes, so a capture never fails for a missing partition.
 *
 * - storage_period: the period (UTC) that holds an instant;
 * - storage_partitions: the partitions with their bounds, read from the catalog;
 * - storage_create_partition: the partition for one instant, clamped so it never overlaps one that
 *   exists (the setting may change from month to day); when the default partition holds rows of
 *   that range they are moved into it in the same transaction (with p_move), else it is skipped;
 * - storage_reattach: a partition detached by hand is attached back (its rows are audit rows);
 * - storage_ensure: the current period and the ones ahead (install, maintain, every retention run).
 * Partitions get no privileges for PUBLIC: capture writes through the parent (GRANT INSERT there).
 */
export const PARTITION_DDL = String.raw`
-- from/to in the results are isoSql text (years beyond 9999 and BC, from hand-edited rows, included).
CREATE OR REPLACE FUNCTION @S.storage_period(p_unit text, p_at timestamptz, OUT lo timestamptz, OUT hi timestamptz)
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT date_trunc(u, p_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
         (date_trunc(u, p_at AT TIME ZONE 'UTC') + ('1 ' || u)::interval) AT TIME ZONE 'UTC'
    FROM (SELECT CASE WHEN p_unit IN ('day', 'week') THEN p_unit ELSE 'month' END AS u) x
$fn$;

-- Periods created ahead of the current one: two weeks of days, four weeks, two months.
CREATE OR REPLACE FUNCTION @S.storage_ahead(p_unit text) RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE p_unit WHEN 'day' THEN 14 WHEN 'week' THEN 4 ELSE 2 END
$fn$;

CREATE OR REPLACE FUNCTION @S.storage_partitions()
RETURNS TABLE (relid oid, name text, is_default boolean, lo timestamptz, hi timestamptz)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
  SELECT c.oid, c.relname::text, b.bound = 'DEFAULT',
         CASE WHEN m[1] = 'MINVALUE' THEN '-infinity'::timestamptz ELSE (m[1])::timestamptz END,
         CASE WHEN m[2] = 'MAXVALUE' THEN 'infinity'::timestamptz ELSE (m[2])::timestamptz END
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
    LEFT JOIN LATERAL regexp_match(b.bound, '^FOR VALUES FROM [(]''?([^'')]*)''?[)] TO [(]''?([^'')]*)''?[)]$') m ON true
   WHERE i.inhparent = to_regclass(format('%I.audit_changes', @LIT))
$fn$;

CREATE OR REPLACE FUNCTION @S.storage_create_partition(p_at timestamptz, p_move boolean, p_from timestamptz DEFAULT NULL) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
  storage text := @LIT;
  parent regclass := to_regclass(format('%I.audit_changes', storage));
  unit text := (SELECT s.partition FROM @S.storage_settings s);
  def oid;
  lo timestamptz;
  hi timestamptz;
  part text;
  cols text;
  moved bigint := 0;
  has_rows boolean := false;
BEGIN
  IF parent IS NULL OR (SELECT relkind FROM pg_class WHERE oid = parent) <> 'p' OR NOT isfinite(p_at) THEN
    RETURN NULL;  -- an infinite instant (a hand edit) fits no partition: it stays in the default
  END IF;
  -- One partition change at a time (maintain, install, retention runs may overlap).
  PERFORM pg_advisory_xact_lock(hashtext('threadline.storage:' || storage));
  IF EXISTS (SELECT 1 FROM @S.storage_partitions() x WHERE NOT x.is_default AND x.lo <= p_at AND p_at < x.hi) THEN
    RETURN NULL;
  END IF;
  SELECT p.lo, p.hi INTO lo, hi FROM @S.storage_period(unit, p_at) p;
  -- p_from: start the partition there (an upgrade starts the current one just ahead of now, so
  -- creating it moves nothing; the rows before it stay in the default until maintain moves them).
  lo := greatest(lo, p_from);
  lo := greatest(lo, (SELECT max(x.hi) FROM @S.storage_partitions() x WHERE NOT x.is_default AND x.hi <= p_at));
  hi := least(hi, (SELECT min(x.lo) FROM @S.storage_partitions() x WHERE NOT x.is_default AND x.lo > p_at));
  part := 'audit_changes_' || to_char(lo, 'YYYYMMDD') || CASE WHEN lo = date_trunc('day', lo) THEN '' ELSE to_char(lo, '"_"HH24MISS') END
          || CASE WHEN lo < '0001-01-01 00:00:00+00' THEN '_bc' ELSE '' END;
  SELECT x.relid INTO def FROM @S.storage_partitions() x WHERE x.is_default;
  IF def IS NOT NULL THEN
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE captured_at >= $1 AND captured_at < $2)', def::regclass) INTO has_rows USING lo, hi;
  END IF;
  IF has_rows AND NOT p_move THEN
    RETURN jsonb_build_object('name', part, 'from', ${isoSql('lo')}, 'to', ${isoSql('hi')}, 'skipped', true);
  END IF;
  IF to_regclass(format('%I.%I', storage, part)) IS NOT NULL THEN
    RETURN @S.storage_reattach(parent, def, part, lo, hi, has_rows);
  END IF;
  IF has_rows THEN
    -- Capture waits until the move commits. The parent is locked first: an insert holds its lock
    -- on audit_changes from routing to commit, so a row routed to the default partition before
    -- the attach would otherwise be written there after it and fail the new partition constraint
    -- (SQLSTATE 23514, rolling back the application's own write). Locking only the default
    -- partition let exactly that happen.
    EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', parent);
    EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', def::regclass);
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
      FROM pg_attribute a WHERE a.attrelid = parent AND a.attnum > 0 AND NOT a.attisdropped;
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', storage, part, parent);
    EXECUTE format('WITH m AS (DELETE FROM %s WHERE captured_at >= $1 AND captured_at < $2 RETURNING %s) INSERT INTO %I.%I (%s) SELECT %s FROM m',
                   def::regclass, cols, storage, part, cols, cols) USING lo, hi;
    GET DIAGNOSTICS moved = ROW_COUNT;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', parent, storage, part, lo, hi);
  ELSE
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)', storage, part, parent, lo, hi);
  END IF;
  EXECUTE format('REVOKE ALL ON %I.%I FROM PUBLIC', storage, part);
  RETURN jsonb_build_object('name', part, 'from', ${isoSql('lo')}, 'to', ${isoSql('hi')}, 'moved', moved);
END
$fn$;

-- A table with the name of the partition to create that is not one of audit_changes' partitions:
-- a partition detached by hand. Its rows are audit rows, so it is attached back (with the rows of
-- its range the default partition took meanwhile); if it cannot be, the error says how to fix it.
CREATE OR REPLACE FUNCTION @S.storage_reattach(p_parent regclass, p_def oid, p_part text, p_lo timestamptz, p_hi timestamptz, p_move boolean) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
  storage text := @LIT;
  rel regclass := to_regclass(format('%I.%I', @LIT, p_part));
  cols text;
  moved bigint := 0;
BEGIN
  BEGIN
    IF p_move THEN
      -- As when a partition is created with rows to move: parent first, then the default partition.
      EXECUTE format('LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE', p_parent);
      EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', p_def::regclass);
      SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols
        FROM pg_attribute a WHERE a.attrelid = p_parent AND a.attnum > 0 AND NOT a.attisdropped;
      EXECUTE format('WITH m AS (DELETE FROM %s WHERE captured_at >= $1 AND captured_at < $2 RETURNING %s) INSERT INTO %s (%s) SELECT %s FROM m',
                     p_def::regclass, cols, rel, cols, cols) USING p_lo, p_hi;
      GET DIAGNOSTICS moved = ROW_COUNT;
    END IF;
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L)', p_parent, rel, p_lo, p_hi);
  EXCEPTION WHEN OTHERS THEN
    RAISE EXCEPTION USING ERRCODE = 'TLST1',
      MESSAGE = format('threadline: %s is not a partition of %s (detached by hand?) and could not be attached back for %s to %s: %s',
                       rel, p_parent, p_lo, p_hi, SQLERRM),
      HINT = format('Its rows are audit rows that no query sees now. Attach it back once every row fits that range: ALTER TABLE %s ATTACH PARTITION %s FOR VALUES FROM (%L) TO (%L); or, to keep it apart on purpose, rename it (ALTER TABLE %s RENAME TO %I); then run threadline storage maintain again.',
                    p_parent, rel, p_lo, p_hi, rel, p_part || '_detached');
  END;
  EXECUTE format('REVOKE ALL ON %s FROM PUBLIC', rel);
  RETURN jsonb_build_object('name', p_part, 'from', ${isoSql('p_lo')}, 'to', ${isoSql('p_hi')}, 'moved', moved, 'reattached', true);
END
$fn$;

-- The current period and the ones ahead; with p_move, rows of those ranges that sit in the
-- default partition are moved (maintain), else such a period is left for maintain (install).
CREATE OR REPLACE FUNCTION @S.storage_ensure(p_move boolean) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
  unit text := (SELECT s.partition FROM @S.storage_settings s);
  at timestamptz := now();
  made jsonb := '[]'::jsonb;
  r jsonb;
  i integer;
BEGIN
  IF to_regclass(format('%I.audit_changes', @LIT)) IS NULL
     OR (SELECT relkind FROM pg_class WHERE oid = to_regclass(format('%I.audit_changes', @LIT))) <> 'p' THEN
    RETURN made;
  END IF;
  unit := CASE WHEN unit IN ('day', 'week', 'month') THEN unit ELSE 'month' END;
  FOR i IN 0 .. @S.storage_ahead(unit) LOOP
    r := @S.storage_create_partition(at, p_move);
    IF r IS NOT NULL THEN made := made || r; END IF;
    at := (SELECT p.hi FROM @S.storage_period(unit, at) p);
  END LOOP;
  RETURN made;
END
$fn$;
`;
