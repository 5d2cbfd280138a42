/**
 * Regeneration after DDL, once per transaction instead of once per statement. `@S` is the quoted
 * storage schema, `@LIT` its name as a literal.
 *
 * A shape-changing ALTER (ADD/DROP/RENAME/ALTER TYPE of a column, a new unique index) does the
 * cheap part at once: the registry follows renames (options by name, columns by number), the
 * triggers of the partition tree are brought in line, and the table is marked pending in
 * capture_pending for this transaction. The expensive part (planning the capture function and
 * CREATE FUNCTION) happens once, at the latest of:
 * - the first INSERT/UPDATE/DELETE/COPY/MERGE on that table in the same transaction: the
 *   BEFORE STATEMENT trigger capture_statement_start (runtime-functions.ts) finds the pending row
 *   of the relation it fires on and regenerates that table alone (other pending tables wait for
 *   their own first write or COMMIT) before the statement's own capture runs (the
 *   function keeps its oid, so the AFTER triggers call the new body); a TRUNCATE needs no
 *   regeneration (its branch of the function does not depend on columns);
 * - COMMIT (or PREPARE TRANSACTION): a deferred constraint trigger on capture_pending, ENABLE
 *   ALWAYS so it fires under session_replication_role = replica too.
 * The check is a table, not a setting: a session cannot skip it. Transactional throughout: a
 * rolled-back DDL (or savepoint) takes its pending row with it. Where a stale function could run
 * without that BEFORE trigger (a capture trigger in another enabled state than the BEFORE trigger
 * on the same relation) or the function's name changes (a renamed table), the ALTER regenerates
 * at once, as before (capture-refresh.ts).
 */
export const CAPTURE_DEFERRED = String.raw`
-- Tables whose capture must be regenerated before this transaction writes them or commits.
-- Rows never outlive their transaction (the flush deletes them).
CREATE TABLE IF NOT EXISTS @S.capture_pending (
  xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
  relid oid NOT NULL,
  PRIMARY KEY (xid, relid)
);
-- Writers' BEFORE STATEMENT trigger reads it (only its own transaction's rows are visible).
GRANT SELECT ON @S.capture_pending TO PUBLIC;

-- Regenerate what this transaction left pending: with p_rel (the relation a statement is about
-- to write: the BEFORE STATEMENT trigger) only the audited table it belongs to, so one small write
-- after a migration that altered many tables pays for its own table alone; with NULL (COMMIT)
-- every table. Rows name each relation of a table's tree (a partition written directly finds its
-- row by its own oid: one index probe); the table is its partition root. Callable by any writer:
-- it only acts on rows its own transaction's DDL inserted (through the SECURITY DEFINER event
-- triggers).
DROP FUNCTION IF EXISTS @S.capture_flush_pending();
CREATE OR REPLACE FUNCTION @S.capture_flush_pending(p_rel oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
  root oid;
  done oid[] := '{}';
BEGIN
  IF p_rel IS NOT NULL THEN
    root := coalesce(pg_partition_root(p_rel), p_rel);
    DELETE FROM @S.capture_pending p WHERE p.xid = pg_current_xact_id() AND coalesce(pg_partition_root(p.relid), p.relid) = root;
    IF FOUND THEN
      PERFORM @S.refresh_capture(root, true);
    END IF;
    RETURN;
  END IF;
  FOR r IN DELETE FROM @S.capture_pending WHERE xid = pg_current_xact_id() RETURNING relid LOOP
    root := coalesce(pg_partition_root(r.relid), r.relid);
    IF NOT root = ANY(done) THEN
      done := done || root;
      PERFORM @S.refresh_capture(root, true);
    END IF;
  END LOOP;
END
$fn$;

-- Writers reach it through capture_statement_note and the commit trigger: granted explicitly, so
-- default privileges that take EXECUTE from PUBLIC cannot make their writes fail.
GRANT EXECUTE ON FUNCTION @S.capture_flush_pending(oid) TO PUBLIC;

CREATE OR REPLACE FUNCTION @S.regenerate_pending_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM @S.capture_flush_pending(NULL);
  RETURN NULL;
END
$fn$;

DO $do$
DECLARE
  storage text := @LIT;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = format('%I.capture_pending', storage)::regclass
                   AND tgname = 'regenerate_pending_at_commit') THEN
    EXECUTE format('CREATE CONSTRAINT TRIGGER regenerate_pending_at_commit AFTER INSERT ON %I.capture_pending '
                   'DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION %I.regenerate_pending_at_commit()', storage, storage);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = format('%I.capture_pending', storage)::regclass
               AND tgname = 'regenerate_pending_at_commit' AND tgenabled <> 'A') THEN
    EXECUTE format('ALTER TABLE %I.capture_pending ENABLE ALWAYS TRIGGER regenerate_pending_at_commit', storage);
  END IF;
END
$do$;
`;
