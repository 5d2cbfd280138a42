/**
 * The activity rollup (SPEC section 12, the timeline's activity chart). `@S` is the quoted storage
 * schema, `@LIT` its name as a literal.
 *
 * activity_rollup holds, per hour (UTC) and per table, each audit transaction's number of changes
 * captured in that hour: tl.activity sums `changes` and counts distinct transactions over it, so
 * every bucket size from an hour up is exact (a transaction spanning two hours of one day counts
 * once in the day). activity_hours lists the hours the rollup covers; tl.activity counts every
 * other part of its window (the partial hours at its edges, the recent hours not rolled up yet,
 * hours a purge forgot) straight from audit_changes, so an answer is the same with or without the
 * rollup, only faster.
 *
 * Nothing is paid on capture: the rollup is filled by activity_refresh() (`threadline storage
 * maintain`, tl.storage.maintain()) for the whole hours that ended before now() - 5 minutes. A
 * change is stamped with its statement's start, so a transaction still open (or prepared, or not
 * visible in pg_stat_activity) can still commit changes into an hour that has ended: the rollup
 * counts only the transactions finished for certain, those whose txid is below the xmin of the
 * refresh's snapshot, and records that xmin in activity_state.upto. tl.activity adds, in covered
 * hours, the changes of transactions with txid >= upto (few: the ones open at the last refresh or
 * started since, found through audit_transactions_txid_idx); the next refresh adds them to the rollup.
 *
 * Purges call activity_forget(from, to) for the range they deleted: it only queues the range in
 * activity_forgets (no lock, so a purge never waits for a long refresh). Readers treat queued hours
 * as not covered; the next refresh deletes the queued hours from the rollup (recounting them) and the
 * queue entries it sees. A refresh whose snapshot predates a purge's commit (repeatable read) may
 * count rows the purge deleted, but it does not see that purge's entry either, which stays queued
 * for the next refresh: no ordering of the two can leave wrong counts behind.
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
CREATE TABLE IF NOT EXISTS @S.activity_forgets (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  lo timestamptz NOT NULL,
  hi timestamptz NOT NULL
);
DO $do$
BEGIN
  IF to_regclass(format('%I.activity_state', @LIT)) IS NULL THEN
    CREATE TABLE @S.activity_state (
      singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
      upto bigint NOT NULL
    );
    -- Hours counted before the watermark existed included every transaction committed by then:
    -- recounted by the next refresh (counted from audit_changes meanwhile).
    TRUNCATE @S.activity_hours, @S.activity_rollup;
    INSERT INTO @S.activity_state (singleton, upto) VALUES (true, 0);
  END IF;
END
$do$;
REVOKE ALL ON @S.activity_rollup, @S.activity_hours, @S.activity_forgets, @S.activity_state FROM PUBLIC;

-- Executable by every role that may delete audit rows: it only queues the range for the next
-- refresh (readers stop using those hours at once). Returns the covered hours in the range.
CREATE OR REPLACE FUNCTION @S.activity_forget(p_from timestamptz, p_to timestamptz) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  done integer;
BEGIN
  IF p_from IS NULL OR p_to IS NULL THEN RETURN 0; END IF;
  INSERT INTO @S.activity_forgets (lo, hi) VALUES (p_from, p_to);
  SELECT count(*)::integer INTO done FROM @S.activity_hours
   WHERE hour >= date_trunc('hour', p_from, 'UTC') AND hour <= p_to;
  RETURN done;
END
$fn$;

CREATE OR REPLACE FUNCTION @S.activity_refresh() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  first_hour timestamptz;
  end_hour timestamptz;
  prev bigint;
  w bigint;
  done integer := 0;
BEGIN
  -- Serialises refreshes: under read committed a second one waits and then sees the first's work;
  -- under repeatable read it fails to serialise (retry) instead of counting hours twice.
  SELECT upto INTO prev FROM @S.activity_state FOR UPDATE;
  -- Every transaction with a txid below w has finished (committed ones are visible from here on).
  w := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
  -- The purges' queued ranges this refresh sees: recounted below.
  WITH f AS (DELETE FROM @S.activity_forgets RETURNING lo, hi),
  h AS (DELETE FROM @S.activity_hours a USING f
         WHERE a.hour >= date_trunc('hour', f.lo, 'UTC') AND a.hour <= f.hi RETURNING a.hour)
  DELETE FROM @S.activity_rollup r USING h WHERE r.captured_at = h.hour;
  -- Covered hours: add the transactions that finished since the last refresh.
  IF prev < w AND EXISTS (SELECT 1 FROM @S.activity_hours) THEN
    INSERT INTO @S.activity_rollup (captured_at, table_schema, table_name, transaction_id, changes, table_id)
    SELECT date_trunc('hour', c.captured_at, 'UTC'), c.table_schema, c.table_name, c.transaction_id, count(*),
           max(c.table_id)
      FROM @S.audit_transactions t JOIN @S.audit_changes c ON c.transaction_id = t.id
     WHERE t.txid >= prev AND t.txid < w
       AND EXISTS (SELECT 1 FROM @S.activity_hours a WHERE a.hour = date_trunc('hour', c.captured_at, 'UTC'))
     GROUP BY 1, 2, 3, 4;
  END IF;
  end_hour := date_trunc('hour', now() - interval '5 minutes', 'UTC');
  -- At most the last ten years of hours (87,600): a captured_at edited by hand to year 1 or BC
  -- would otherwise make this count millions of empty hours. Older hours are counted from
  -- audit_changes by tl.activity, like any hour the rollup does not cover.
  SELECT date_trunc('hour', min(captured_at), 'UTC') INTO first_hour FROM @S.audit_changes
   WHERE captured_at >= end_hour - interval '10 years';
  IF first_hour IS NOT NULL AND first_hour < end_hour THEN
    WITH todo AS (
      SELECT h FROM generate_series(first_hour, end_hour - interval '1 hour', interval '1 hour') h
       WHERE NOT EXISTS (SELECT 1 FROM @S.activity_hours a WHERE a.hour = h)
    ), counted AS (
      INSERT INTO @S.activity_rollup (captured_at, table_schema, table_name, transaction_id, changes, table_id)
      SELECT t.h, c.table_schema, c.table_name, c.transaction_id, count(*), max(c.table_id)
        FROM todo t JOIN @S.audit_changes c ON c.captured_at >= t.h AND c.captured_at < t.h + interval '1 hour'
        LEFT JOIN @S.audit_transactions x ON x.id = c.transaction_id
       WHERE x.txid IS NULL OR x.txid < w
       GROUP BY 1, 2, 3, 4
    )
    INSERT INTO @S.activity_hours (hour) SELECT h FROM todo;
    GET DIAGNOSTICS done = ROW_COUNT;
  END IF;
  UPDATE @S.activity_state SET upto = w;
  RETURN done;
END
$fn$;
REVOKE ALL ON FUNCTION @S.activity_refresh() FROM PUBLIC;
`;
