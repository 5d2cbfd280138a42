/**
 * What capture of a partitioned table needs to record one TRUNCATE of it as one row: the notes a
 * table's trigger leaves for the partitions it covers, and the two functions the capture
 * functions call to leave and consume them. `@S` is the quoted storage schema.
 */
export const TRUNCATE_FUNCTIONS = String.raw`
-- The partitions a TRUNCATE of their partitioned, audited table covers, until their own triggers
-- have fired (a TRUNCATE of a partitioned table also fires the triggers of its partitions), and
-- (fired) the partitions whose trigger already fired. In a table no session can write (not a
-- setting, which a session could write to hide a TRUNCATE of a partition). Rows are scoped to the
-- client statement that made them (at: statement_timestamp()): a note left by one statement is never
-- consumed by a later one. The fired marks cover statements that share that time (a DO block, a
-- function, a multi-statement query string): a partition whose trigger fired before its parent's
-- (TRUNCATE pt1, pt) is not noted again, so no note outlives its statement unconsumed. A mark can
-- only add a row (a partition recorded on its own), never hide one.
CREATE TABLE IF NOT EXISTS @S.capture_truncating (xid xid8 NOT NULL, relid oid NOT NULL);
ALTER TABLE @S.capture_truncating ADD COLUMN IF NOT EXISTS at timestamptz,
  ADD COLUMN IF NOT EXISTS fired boolean NOT NULL DEFAULT false;
REVOKE ALL ON @S.capture_truncating FROM PUBLIC;

-- True when this TRUNCATE of relation p_rel (a partition of an audited table) is part of a
-- TRUNCATE of the whole table already captured by this statement: the trigger of a table above it
-- fired first and noted it (truncate_started). Each partition consumes its own note and marks
-- itself fired. A partition not covered that is itself partitioned notes its own partitions, so one
-- TRUNCATE of it is one row. Rows of finished transactions are dropped on the way (SKIP LOCKED: never
-- waits). Only the capture functions (the owner) call these two: no EXECUTE for PUBLIC.
CREATE OR REPLACE FUNCTION @S.truncate_captured(p_schema text, p_name text, p_rel oid) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v_xid xid8 := pg_current_xact_id();
  v_at timestamptz := statement_timestamp();
  covered boolean;
BEGIN
  DELETE FROM @S.capture_truncating t WHERE t.ctid IN (
    SELECT o.ctid FROM @S.capture_truncating o WHERE o.xid < pg_snapshot_xmin(pg_current_snapshot()) FOR UPDATE SKIP LOCKED);
  DELETE FROM @S.capture_truncating t WHERE t.xid = v_xid AND t.at IS DISTINCT FROM v_at;
  DELETE FROM @S.capture_truncating t WHERE t.xid = v_xid AND t.at = v_at AND t.relid = p_rel AND NOT t.fired;
  covered := FOUND;
  IF NOT EXISTS (SELECT 1 FROM @S.capture_truncating t WHERE t.xid = v_xid AND t.at = v_at AND t.relid = p_rel AND t.fired) THEN
    INSERT INTO @S.capture_truncating (xid, relid, at, fired) VALUES (v_xid, p_rel, v_at, true);
  END IF;
  IF NOT covered AND EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = p_rel AND c.relkind = 'p') THEN
    PERFORM @S.truncate_started(p_rel);
  END IF;
  RETURN covered;
END
$fn$;
REVOKE ALL ON FUNCTION @S.truncate_captured(text, text, oid) FROM PUBLIC;

-- Called by the audited table's own TRUNCATE trigger (and by a partitioned partition's, above):
-- its partitions' triggers, which fire next in the same statement, are part of this TRUNCATE,
-- except those that already fired in it (rows of earlier statements are dropped first).
CREATE OR REPLACE FUNCTION @S.truncate_started(p_rel oid) RETURNS void
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
  DELETE FROM @S.capture_truncating t WHERE t.xid = pg_current_xact_id() AND t.at IS DISTINCT FROM statement_timestamp();
  INSERT INTO @S.capture_truncating (xid, relid, at, fired)
    SELECT pg_current_xact_id(), p.relid::oid, statement_timestamp(), false FROM pg_partition_tree(p_rel) p
     WHERE p.relid::oid <> p_rel
       AND NOT EXISTS (SELECT 1 FROM @S.capture_truncating t WHERE t.xid = pg_current_xact_id() AND t.at = statement_timestamp()
                         AND t.relid = p.relid::oid);
$fn$;
REVOKE ALL ON FUNCTION @S.truncate_started(oid) FROM PUBLIC;
`;
