/**
 * The activity rollup (SPEC section 12, the timeline's activity chart). `@S` is the quoted storage
 * schema, `@LIT` its name as a literal.
 *
 * activity_rollup holds, per hour (UTC) and per table, each audit transaction's number of changes
 * captured in that hour: tl.activity sums `changes` and counts distinct transactions over it, so
 * every bucket size from an hour up is exact (a transaction spanning two hours of one day counts
 * once in the day). activity_hours lists the hours the rollup covers; tl.activity counts every
 * other part of its window (the partial hours at its edges, the recent hours not rolled up yet,
 * hours forgotten by a purge) straight from audit_changes, so an answer is the same with or
 * without the rollup, only faster.
 *
 * Nothing is paid on capture: the rollup is filled by activity_refresh() (`threadline storage
 * maintain`, tl.storage.maintain()) for the whole hours that ended before both now() - 5 minutes
 * and the start of the oldest open client transaction of the database (pg_stat_activity; a change is
 * stamped with its statement's start, so an open transaction can still commit changes of an hour
 * that has ended). Purges call activity_forget(from, to) for the range they deleted, which drops
 * those hours from the rollup until the next refresh recounts them.
 */
export const ACTIVITY_DDL = String.raw`
CREATE TABLE IF NOT EXISTS @S.activity_rollup (
  captured_at timestamptz NOT NULL,
  table_schema text COLLATE "C" NOT NULL,
  table_name text COLLATE "C" NOT NULL,
  transaction_id bigint NOT NULL,
  changes bigint NOT NULL,
  PRIMARY KEY (captured_at, table_schema, table_name, transaction_id)
);
-- The table id of the counted changes (schema version 7; NULL for changes not keyed yet), so a
-- table filter selects rollup rows exactly as it selects changes (query/table-scope.ts).
ALTER TABLE @S.activity_rollup ADD COLUMN IF NOT EXISTS table_id integer;
CREATE TABLE IF NOT EXISTS @S.activity_hours (hour timestamptz PRIMARY KEY);
REVOKE ALL ON @S.activity_rollup, @S.activity_hours FROM PUBLIC;

-- Executable by every role that may delete audit rows: it only drops derived counts (recounted by
-- the next refresh, and counted from audit_changes meanwhile). Returns the hours forgotten.
CREATE OR REPLACE FUNCTION @S.activity_forget(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  done integer;
BEGIN
  IF p_from IS NULL OR p_to IS NULL THEN RETURN 0; END IF;
  PERFORM pg_advisory_xact_lock(hashtext('threadline.activity:' || @LIT));
  DELETE FROM @S.activity_hours WHERE hour >= date_trunc('hour', p_from, 'UTC') AND hour <= p_to;
  GET DIAGNOSTICS done = ROW_COUNT;
  DELETE FROM @S.activity_rollup WHERE captured_at >= date_trunc('hour', p_from, 'UTC') AND captured_at <= p_to;
  RETURN done;
END
$fn$;

CREATE OR REPLACE FUNCTION @S.activity_refresh() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  lo timestamptz;
  hi timestamptz;
  oldest timestamptz;
  done integer;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('threadline.activity:' || @LIT));
  SELECT min(xact_start) INTO oldest FROM pg_stat_activity
   WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
     AND backend_type = 'client backend';
  hi := date_trunc('hour', least(now() - interval '5 minutes', coalesce(oldest, 'infinity')), 'UTC');
  -- At most the last ten years of hours (87,600): a captured_at edited by hand to year 1 or BC
  -- would otherwise make this count millions of empty hours. Older hours are counted from
  -- audit_changes by tl.activity, like any hour the rollup does not cover.
  SELECT date_trunc('hour', min(captured_at), 'UTC') INTO lo FROM @S.audit_changes
   WHERE captured_at >= hi - interval '10 years';
  IF lo IS NULL OR lo >= hi THEN RETURN 0; END IF;
  WITH todo AS (
    SELECT h FROM generate_series(lo, hi - interval '1 hour', interval '1 hour') h
     WHERE NOT EXISTS (SELECT 1 FROM @S.activity_hours a WHERE a.hour = h)
  ), counted AS (
    INSERT INTO @S.activity_rollup (captured_at, table_schema, table_name, transaction_id, changes, table_id)
    SELECT t.h, c.table_schema, c.table_name, c.transaction_id, count(*), max(c.table_id)
      FROM todo t JOIN @S.audit_changes c ON c.captured_at >= t.h AND c.captured_at < t.h + interval '1 hour'
     GROUP BY 1, 2, 3, 4
  )
  INSERT INTO @S.activity_hours (hour) SELECT h FROM todo;
  GET DIAGNOSTICS done = ROW_COUNT;
  RETURN done;
END
$fn$;
REVOKE ALL ON FUNCTION @S.activity_refresh() FROM PUBLIC;
`;
