/**
 * Event triggers that keep capture in step with DDL, inside the DDL's own transaction:
 * ALTER TABLE (columns added, dropped, renamed or retyped; table renamed or moved; partitions
 * attached or detached) and CREATE TABLE ... PARTITION OF regenerate the table's capture; DROP
 * TABLE removes its registry row and function. Created only when the installing role may create
 * event triggers; otherwise capture is generated in portable mode (see capture-generator.ts).
 * ENABLE ALWAYS: they also fire under session_replication_role = replica (pg_restore, migrations).
 * SECURITY DEFINER: they run for every role's DDL, including roles that have no access to the
 * storage schema, and must not make that DDL fail.
 */
export const DDL_SYNC = String.raw`
CREATE OR REPLACE FUNCTION @S.sync_after_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  cmd record;
  root oid;
  roots oid[] := '{}';
BEGIN
  IF current_setting('threadline.syncing', true) = 'on' THEN RETURN; END IF;
  FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands()
              WHERE command_tag IN ('ALTER TABLE', 'CREATE TABLE') AND object_type IN ('table', 'table column') LOOP
    root := coalesce(pg_partition_root(cmd.objid), cmd.objid);
    IF NOT root = ANY(roots) AND EXISTS (SELECT 1 FROM @S.captured_tables WHERE relid = root) THEN
      roots := roots || root;
    END IF;
  END LOOP;
  IF cardinality(roots) = 0 THEN RETURN; END IF;
  PERFORM set_config('threadline.syncing', 'on', true);
  FOREACH root IN ARRAY roots LOOP
    PERFORM @S.refresh_capture(root);
  END LOOP;
  PERFORM set_config('threadline.syncing', 'off', true);
END
$fn$;

CREATE OR REPLACE FUNCTION @S.sync_after_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  dropped record;
  fname text;
BEGIN
  IF to_regclass(format('%I.captured_tables', storage)) IS NULL THEN RETURN; END IF;
  FOR dropped IN SELECT o.objid FROM pg_event_trigger_dropped_objects() o WHERE o.object_type = 'table' LOOP
    FOR fname IN DELETE FROM @S.captured_tables ct WHERE ct.relid::oid = dropped.objid RETURNING ct.function_name LOOP
      EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', storage, fname);
    END LOOP;
  END LOOP;
END
$fn$;

DO $do$
DECLARE
  storage text := @LIT;
  ddl_name text := 'threadline_sync_' || md5(storage);
  drop_name text := 'threadline_drop_' || md5(storage);
BEGIN
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ddl_name) THEN
    EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', ddl_name);
  ELSE
    EXECUTE format('CREATE EVENT TRIGGER %I ON ddl_command_end WHEN TAG IN (''ALTER TABLE'', ''CREATE TABLE'') EXECUTE FUNCTION %I.sync_after_ddl()', ddl_name, storage);
    EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', ddl_name);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = drop_name) THEN
    EXECUTE format('CREATE EVENT TRIGGER %I ON sql_drop WHEN TAG IN (''DROP TABLE'', ''DROP SCHEMA'', ''DROP OWNED'') EXECUTE FUNCTION %I.sync_after_drop()', drop_name, storage);
  END IF;
  EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', drop_name);
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'threadline: this role may not create event triggers, so capture is generated in portable mode (ALTER TABLE never breaks writes; re-run gen-triggers after schema changes for complete change detection)';
END
$do$;
`;
