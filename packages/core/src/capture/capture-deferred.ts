/**
 * Regeneration after DDL, once per transaction instead of once per statement. `@S` is the quoted
 * storage schema, `@LIT` its name as a literal.
 *
 * A shape-changing ALTER (ADD/DROP/RENAME/ALTER TYPE of a column, a new unique index) does the
 * cheap part at once: the registry follows renames (options by name, columns by number), the
 * triggers of the partition tree are brought in line, and the table is marked pending in
 * capture_pending for this transaction. The expensive part (planning the capture function and
 * CREATE FUNCTION) happens once, at the latest of:
 * - the first INSERT/UPDATE/DELETE/COPY/MERGE on an audited table in the same transaction: the
 *   BEFORE STATEMENT trigger capture_statement_start (runtime-functions.ts) finds this
 *   transaction's pending rows and regenerates before the statement's own capture runs (the
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

-- Regenerate every table this transaction left pending. Callable by any writer: it only acts on
-- rows its own transaction's DDL inserted (through the SECURITY DEFINER event triggers).
CREATE OR REPLACE FUNCTION @S.capture_flush_pending() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
BEGIN
  FOR r IN DELETE FROM @S.capture_pending WHERE xid = pg_current_xact_id() RETURNING relid LOOP
    PERFORM @S.refresh_capture(r.relid, true);
  END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION @S.regenerate_pending_at_commit() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  PERFORM @S.capture_flush_pending();
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
