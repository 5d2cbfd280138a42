/**
 * The legacy indexes: four partial indexes `WHERE table_id IS NULL` on audit_changes, keyed by
 * name as before schema version 7, that find rows written before table ids until
 * storage_key_batch (key-backfill.ts) has keyed them. They exist only while such rows may exist:
 * every INSERT into audit_changes opens each index of the table and prepares its predicate, even
 * one no row enters (callgrind: 127K of 2.68M instructions per pgbench TPC-B transaction, ~5 % of
 * capture's cost). A fresh install has none; the upgrade from a layout without table ids creates
 * them; install and storage maintain drop them once no unkeyed row is left.
 *
 * Queries need no flag: their legacy arm (`c.table_id IS NULL AND <name>`, query/table-scope.ts)
 * is answered by the legacy index while it exists, else by the compact indexes, which lead with
 * table_id and so hold the NULLs too (`Index Cond: (table_id IS NULL)`: one descent into an empty
 * range per partition). Answers are therefore complete whether or not the indexes exist, and never
 * depend on a cached state.
 *
 * What can still write `table_id IS NULL` after the drop (so it must never be a correctness
 * condition): no current writer (capture functions generated since version 7, capture-refresh's
 * truncate rows, baselines and the backfill's "keyed to the name only" path all write a table id).
 * Only capture functions generated before version 7 do: install regenerates them
 * (storage_key_capture) and the drop refuses while one is left; and an install of a release before
 * version 7 run against this database (a rolling deploy) generates such functions again. Rows they
 * write are still found (through the compact indexes, slower as they pile up), storage maintain
 * still keys them (storage_key_batch finds them the same way), and the next install sees the old
 * functions and creates the legacy indexes again before it regenerates them.
 *
 * `@S` is the quoted storage schema, `@LIT` its literal.
 */
export const LEGACY_INDEXES = `
-- Capture functions generated before table ids (schema version 7): they write rows without one.
CREATE OR REPLACE FUNCTION @S.storage_unkeyed_capture() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT EXISTS (SELECT 1 FROM @S.captured_tables ct
                   JOIN pg_proc p ON p.proname = ct.function_name AND p.pronamespace = to_regnamespace(quote_ident(@LIT))
                  WHERE p.prosrc NOT LIKE '%key_hash%')
$fn$;

-- Create the legacy indexes (those missing) when p_force (the upgrade that adds table_id: every
-- row is unkeyed) or when capture functions that write unkeyed rows exist.
CREATE OR REPLACE FUNCTION @S.storage_legacy_create(p_force boolean) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  ix text[];
BEGIN
  IF NOT p_force AND NOT @S.storage_unkeyed_capture() THEN
    RETURN false;
  END IF;
  FOREACH ix SLICE 1 IN ARRAY ARRAY[
    ['audit_changes_legacy_row_idx', $i$ON %I.audit_changes (table_schema, table_name, table_pk, captured_at, id) WHERE table_id IS NULL$i$],
    ['audit_changes_legacy_before_idx', $i$ON %I.audit_changes (table_schema, table_name, table_pk_before) WHERE table_pk_before IS NOT NULL AND table_id IS NULL$i$],
    ['audit_changes_legacy_table_idx', $i$ON %I.audit_changes (table_schema, table_name, captured_at, id) WHERE table_id IS NULL$i$],
    ['audit_changes_legacy_truncate_idx', $i$ON %I.audit_changes (table_schema, table_name, captured_at, id) WHERE op = 'truncate' AND table_id IS NULL$i$]
  ] LOOP
    IF to_regclass(format('%I.%I', storage, ix[1])) IS NULL THEN
      EXECUTE format('CREATE INDEX %I ' || ix[2], ix[1], storage);
    END IF;
  END LOOP;
  RETURN true;
END
$fn$;

-- Drop the legacy indexes once no unkeyed row is left and nothing writes one: 'none' (there are
-- none), 'dropped', 'pending' (unkeyed rows or old capture functions left, or a snapshot that
-- cannot see rows committed while the lock was awaited) or 'locked'. DROP INDEX on audit_changes
-- takes ACCESS EXCLUSIVE, which blocks capture while it waits: it waits at most lock_timeout
-- (100ms) and is otherwise left for the next run, never failing the caller. One dropper at a time
-- (a transaction-level advisory lock; a second returns 'locked'): two callers each holding the
-- pre-check's ACCESS SHARE and asking for ACCESS EXCLUSIVE deadlocked. A deadlock with any other
-- holder also returns 'locked'. The check runs again under the lock, so no row can be written
-- between it and the drop; under repeatable read or serializable that check would read the
-- snapshot taken before the wait, so the drop is left for a read committed run (maintain's).
CREATE OR REPLACE FUNCTION @S.storage_legacy_drop() RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '100ms' AS $fn$
DECLARE
  storage text := @LIT;
  ix text;
  names text[] := ARRAY['audit_changes_legacy_row_idx', 'audit_changes_legacy_before_idx',
                        'audit_changes_legacy_table_idx', 'audit_changes_legacy_truncate_idx'];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM unnest(names) n WHERE to_regclass(format('%I.%I', storage, n)) IS NOT NULL) THEN
    RETURN 'none';
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RETURN 'pending';
  END IF;
  IF NOT pg_try_advisory_xact_lock(hashtext('threadline.storage_legacy_drop:' || storage)) THEN
    RETURN 'locked';
  END IF;
  BEGIN
    -- Without the lock first: an upgrade still keying its rows never waits for it.
    IF EXISTS (SELECT 1 FROM @S.audit_changes c WHERE c.table_id IS NULL) OR @S.storage_unkeyed_capture() THEN
      RETURN 'pending';
    END IF;
    EXECUTE format('LOCK TABLE %I.audit_changes IN ACCESS EXCLUSIVE MODE', storage);
  EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
    RETURN 'locked';
  END;
  -- Again under the lock (off the legacy index itself: one probe into an index that is empty).
  IF EXISTS (SELECT 1 FROM @S.audit_changes c WHERE c.table_id IS NULL) OR @S.storage_unkeyed_capture() THEN
    RETURN 'pending';
  END IF;
  FOREACH ix IN ARRAY names LOOP
    IF to_regclass(format('%I.%I', storage, ix)) IS NOT NULL THEN
      EXECUTE format('DROP INDEX %I.%I', storage, ix);
    END IF;
  END LOOP;
  RETURN 'dropped';
END
$fn$;
`;
