/**
 * Event triggers that keep capture in step with DDL, inside the DDL's own transaction:
 * - ALTER TABLE / CREATE TABLE on an audited table (or in its partition tree) regenerate its
 *   capture only when what capture depends on changed (capture-refresh.ts), once per transaction
 *   (before its next write to the table or at commit: capture-deferred.ts); partitions gain or
 *   lose only their own triggers, and a detached partition is recorded like a TRUNCATE of it.
 * - Columns dropped by anything (DROP TYPE/DOMAIN/EXTENSION ... CASCADE, ALTER TYPE ... DROP
 *   ATTRIBUTE) regenerate the table, so no DDL leaves a function that fails writes.
 * - Every other command that changes an audited table's name or columns is synced like ALTER
 *   TABLE: ALTER VIEW / MATERIALIZED VIEW / FOREIGN TABLE ... RENAME COLUMN and ALTER INDEX ...
 *   RENAME TO given a table (PostgreSQL accepts them), ALTER TYPE ... CASCADE on the type of a
 *   typed table (CREATE TABLE ... OF type), ALTER SCHEMA ... RENAME of its schema.
 * - DROP TABLE removes a table's registry row and function; a dropped partition is recorded.
 * - Refused: dropping, renaming or adding a copy of a capture trigger by hand (use disable/
 *   gen-triggers), table inheritance on an audited table, and attaching an audited table as a
 *   partition of an unaudited one (its writes through the parent would not be captured).
 * - Refused: CREATE CAST, ALTER TYPE, ALTER DOMAIN or ALTER TABLE that would make an audited
 *   table's values reach a cast to json whose function another role owns (privileges.ts).
 * - ALTER TABLE that leaves a capture trigger disabled warns (the user's state is kept).
 * Created only when the installing role may create event triggers; otherwise capture is generated
 * in portable mode (see capture-generator.ts). ENABLE ALWAYS: they also fire under
 * session_replication_role = replica. SECURITY DEFINER: they run for every role's DDL.
 */
export const DDL_SYNC = String.raw`
CREATE OR REPLACE FUNCTION @S.capture_check_ddl_target(p_relid oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  root oid := coalesce(pg_partition_root(p_relid), p_relid);
  r record;
BEGIN
  SELECT format('%s inherits from %s', i.inhrelid::regclass, i.inhparent::regclass) AS what INTO r
    FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
   WHERE (i.inhrelid = p_relid OR i.inhparent = p_relid) AND p.relkind <> 'p'
     AND EXISTS (SELECT 1 FROM @S.captured_tables ct WHERE ct.relid IN (i.inhrelid, i.inhparent)) LIMIT 1;
  IF r IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'TLRF1',
      MESSAGE = format('threadline: %s, and one of them is audited: writes through the parent would be captured without the child''s columns or not at all', r.what),
      HINT = 'Use declarative partitioning, or stop auditing the table first (threadline disable), then re-run this DDL.';
  END IF;
  FOR r IN SELECT ct.relid FROM @S.captured_tables ct JOIN pg_class c ON c.oid = ct.relid
            WHERE c.relispartition AND ct.relid::oid <> root AND pg_partition_root(ct.relid) = root LOOP
    IF NOT EXISTS (SELECT 1 FROM @S.captured_tables WHERE relid = root) THEN
      RAISE EXCEPTION USING ERRCODE = 'TLRF1',
        MESSAGE = format('threadline: %s is audited and would become a partition of %s, which is not: writes through %s would not be captured',
                         r.relid, root::regclass, root::regclass),
        HINT = format('Audit %s first (add it to your tables and run threadline gen-triggers --apply), or stop auditing %s, then attach it.', root::regclass, r.relid);
    END IF;
    -- The partitioned table's capture now covers it: its own capture is removed (history stays).
    PERFORM @S.disable_capture(ns.nspname, cl.relname) FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE cl.oid = r.relid;
  END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION @S.sync_after_ddl() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  cmd record;
  root oid;
  roots oid[] := '{}';
  altered oid[] := '{}';
  created oid[] := '{}';
  touched oid[] := '{}';
  r record;
  recheck_casts boolean := false;
BEGIN
  IF @S.internal_guarded() THEN RETURN; END IF;
  FOR cmd IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
    IF cmd.object_type = 'trigger' THEN
      SELECT tg.tgname, tg.tgrelid::regclass AS rel INTO r FROM pg_trigger tg
       WHERE tg.oid = cmd.objid AND @S.capture_is_function(tg.tgfoid) AND NOT tg.tgname = ANY(@S.capture_trigger_names());
      IF r IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TLRF1',
          MESSAGE = format('threadline: trigger %I on %s would call a Threadline capture function under another name, so changes would be captured twice', r.tgname, r.rel),
          HINT = 'Capture triggers are managed by Threadline: use threadline gen-triggers / disable, or ALTER TABLE ... DISABLE TRIGGER to pause capture.';
      END IF;
      -- ALTER TRIGGER ... DEPENDS ON EXTENSION: dropping the extension would drop the capture trigger silently.
      SELECT tg.tgname, tg.tgrelid::regclass AS rel INTO r FROM pg_trigger tg
       WHERE tg.oid = cmd.objid AND @S.capture_is_function(tg.tgfoid)
         AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_trigger'::regclass AND d.objid = tg.oid AND d.deptype = 'x');
      IF r IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'TLRF1',
          MESSAGE = format('threadline: capture trigger %I on %s would depend on an extension: dropping the extension would stop capture without a record', r.tgname, r.rel),
          HINT = 'Capture triggers are managed by Threadline: stop auditing the table with threadline disable instead.';
      END IF;
    ELSIF cmd.command_tag IN ('CREATE CAST', 'ALTER TYPE', 'ALTER DOMAIN') THEN
      -- A cast to json an audited table's values would go through runs with the owner's rights; a
      -- new cast, or a composite or domain that now reaches a type with one, is checked below.
      recheck_casts := true;
      -- ALTER TYPE ... RENAME/ADD/ALTER ATTRIBUTE ... CASCADE changes the columns of the tables
      -- typed by it (CREATE TABLE ... OF type): they are synced like an ALTER TABLE of each.
      IF cmd.command_tag = 'ALTER TYPE' AND cmd.object_type IN ('composite type', 'composite type column') THEN
        FOR r IN SELECT c.oid FROM pg_class c JOIN pg_class ty ON ty.oid = cmd.objid
                  WHERE c.reloftype = ty.reltype AND c.relkind IN ('r', 'p') LOOP
          root := coalesce(pg_partition_root(r.oid), r.oid);
          IF EXISTS (SELECT 1 FROM @S.captured_tables WHERE relid = root) THEN
            IF NOT root = ANY(roots) THEN roots := roots || root; END IF;
            IF NOT root = ANY(altered) THEN altered := altered || root; END IF;
          END IF;
        END LOOP;
      END IF;
    ELSIF cmd.command_tag = 'ALTER SCHEMA' AND cmd.object_type = 'schema' THEN
      -- ALTER SCHEMA ... RENAME: the audited tables in it are renamed (registry, function name).
      FOR r IN SELECT ct.relid FROM @S.captured_tables ct JOIN pg_class c ON c.oid = ct.relid
                WHERE c.relnamespace = cmd.objid LOOP
        IF NOT r.relid::oid = ANY(roots) THEN roots := roots || r.relid::oid; END IF;
        IF NOT r.relid::oid = ANY(altered) THEN altered := altered || r.relid::oid; END IF;
      END LOOP;
    ELSIF cmd.command_tag IN ('ALTER TABLE', 'CREATE TABLE', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FOREIGN TABLE', 'ALTER INDEX')
          AND cmd.object_type IN ('table', 'table column') THEN
      -- PostgreSQL accepts ALTER VIEW / MATERIALIZED VIEW / FOREIGN TABLE ... RENAME COLUMN and
      -- ALTER INDEX ... RENAME TO on an ordinary table (object_type says 'table'/'table column'):
      -- they change it exactly like ALTER TABLE does.
      -- An unaudited table's row type may be an audited column's type (checked below).
      IF NOT recheck_casts AND cmd.command_tag <> 'CREATE TABLE'
         AND NOT EXISTS (SELECT 1 FROM @S.captured_tables WHERE relid = cmd.objid)
         AND EXISTS (SELECT 1 FROM pg_class c JOIN pg_type t ON t.oid = c.reltype
                      WHERE c.oid = cmd.objid
                        AND (EXISTS (SELECT 1 FROM pg_attribute a WHERE a.atttypid IN (t.oid, t.typarray) AND NOT a.attisdropped)
                             OR EXISTS (SELECT 1 FROM pg_type d WHERE d.typbasetype IN (t.oid, t.typarray)))) THEN
        recheck_casts := true;
      END IF;
      IF NOT cmd.objid = ANY(touched) THEN
        PERFORM @S.capture_check_ddl_target(cmd.objid);
        touched := touched || cmd.objid;
      END IF;
      root := coalesce(pg_partition_root(cmd.objid), cmd.objid);
      IF EXISTS (SELECT 1 FROM @S.captured_tables WHERE relid = root) THEN
        IF NOT root = ANY(roots) THEN roots := roots || root; END IF;
        IF cmd.command_tag = 'CREATE TABLE' AND cmd.objid <> root THEN
          created := created || cmd.objid;
        ELSIF NOT root = ANY(altered) THEN
          altered := altered || root;
        END IF;
      END IF;
    END IF;
  END LOOP;
  IF recheck_casts THEN
    PERFORM @S.capture_check_all_casts();
  END IF;
  FOREACH root IN ARRAY roots LOOP
    -- Only new partitions (CREATE TABLE ... PARTITION OF): they alone get triggers.
    -- Regenerated once per transaction where possible (capture-deferred.ts).
    PERFORM @S.refresh_capture(root, false, CASE WHEN root = ANY(altered) THEN NULL
                                                ELSE ARRAY(SELECT c FROM unnest(created) c WHERE pg_partition_root(c) = root) END, true);
  END LOOP;
  FOR r IN SELECT tg.tgname, tg.tgrelid::regclass AS rel, tg.tgenabled FROM unnest(touched) t
             JOIN pg_trigger tg ON tg.tgrelid = t AND tg.tgname = ANY(@S.capture_trigger_names())
            WHERE tg.tgenabled IN ('D', 'R') AND @S.capture_is_function(tg.tgfoid) LOOP
    RAISE WARNING 'threadline: capture trigger % on % is %: changes to it are not recorded', r.tgname, r.rel,
      CASE r.tgenabled WHEN 'D' THEN 'disabled' ELSE 'enabled for replica sessions only' END
      USING HINT = format('ALTER TABLE %s ENABLE TRIGGER %I resumes capture.', r.rel, r.tgname);
  END LOOP;
END
$fn$;

CREATE OR REPLACE FUNCTION @S.sync_after_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  dropped record;
  reg record;
  fname text;
  rel oid;
  roots oid[] := '{}';
  root oid;
BEGIN
  IF to_regclass(format('%I.captured_tables', storage)) IS NULL THEN RETURN; END IF;
  FOR dropped IN SELECT * FROM pg_event_trigger_dropped_objects() LOOP
    IF dropped.object_type = 'table' THEN
      FOR fname IN DELETE FROM @S.captured_tables ct WHERE ct.relid::oid = dropped.objid RETURNING ct.function_name LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', storage, fname);
      END LOOP;
      FOR reg IN SELECT ct.relid FROM @S.captured_tables ct WHERE dropped.objid = ANY(ct.relations) LOOP
        PERFORM @S.capture_partition_gone(reg.relid, format('%I.%I', dropped.schema_name, dropped.object_name), 'dropped');
        UPDATE @S.captured_tables SET relations = array_remove(relations, dropped.objid) WHERE relid = reg.relid;
      END LOOP;
    ELSIF dropped.object_type = 'table column' THEN
      root := coalesce(pg_partition_root(dropped.objid), dropped.objid);
      IF NOT root = ANY(roots) AND EXISTS (SELECT 1 FROM @S.captured_tables WHERE relid = root) THEN roots := roots || root; END IF;
    ELSIF dropped.object_type = 'trigger' AND dropped.original AND dropped.address_names[3] = ANY(@S.capture_trigger_names())
          AND NOT @S.internal_guarded() THEN
      rel := to_regclass(format('%I.%I', dropped.address_names[1], dropped.address_names[2]));
      IF rel IS NOT NULL AND EXISTS (SELECT 1 FROM @S.captured_tables ct WHERE ct.relid = coalesce(pg_partition_root(rel), rel)) THEN
        RAISE EXCEPTION USING ERRCODE = 'TLRF1',
          MESSAGE = format('threadline: %s is audited; dropping its trigger %I would stop capture without a record', rel::regclass, dropped.address_names[3]),
          HINT = 'Stop auditing the table with threadline disable (or remove it from your tables and run gen-triggers), or pause capture with ALTER TABLE ... DISABLE TRIGGER.';
      END IF;
    END IF;
  END LOOP;
  FOREACH root IN ARRAY roots LOOP
    PERFORM @S.refresh_capture(root, false, NULL, true);
  END LOOP;
END
$fn$;

DO $do$
DECLARE
  storage text := @LIT;
  ddl_name text := 'threadline_sync_' || md5(storage);
  drop_name text := 'threadline_drop_' || md5(storage);
  ddl_tags text[] := ARRAY['ALTER TABLE', 'CREATE TABLE', 'CREATE TRIGGER', 'ALTER TRIGGER', 'CREATE CAST',
                             'ALTER TYPE', 'ALTER DOMAIN', 'ALTER VIEW', 'ALTER MATERIALIZED VIEW', 'ALTER FOREIGN TABLE',
                             'ALTER INDEX', 'ALTER SCHEMA'];
  drop_tags text[] := ARRAY['DROP TABLE', 'DROP SCHEMA', 'DROP OWNED', 'DROP TYPE', 'DROP DOMAIN', 'DROP EXTENSION',
                            'ALTER TYPE', 'DROP TRIGGER'];
BEGIN
  -- Recreated only when its definition changed (a re-run that changes nothing changes nothing).
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ddl_name AND evttags IS DISTINCT FROM ddl_tags) THEN
    EXECUTE format('DROP EVENT TRIGGER %I', ddl_name);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ddl_name) THEN
    EXECUTE format('CREATE EVENT TRIGGER %I ON ddl_command_end WHEN TAG IN (%s) EXECUTE FUNCTION %I.sync_after_ddl()',
                   ddl_name, (SELECT string_agg(quote_literal(t), ', ') FROM unnest(ddl_tags) t), storage);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = ddl_name AND evtenabled <> 'A') THEN
    EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', ddl_name);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = drop_name AND evttags IS DISTINCT FROM drop_tags) THEN
    EXECUTE format('DROP EVENT TRIGGER %I', drop_name);
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = drop_name) THEN
    EXECUTE format('CREATE EVENT TRIGGER %I ON sql_drop WHEN TAG IN (%s) EXECUTE FUNCTION %I.sync_after_drop()',
                   drop_name, (SELECT string_agg(quote_literal(t), ', ') FROM unnest(drop_tags) t), storage);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = drop_name AND evtenabled <> 'A') THEN
    EXECUTE format('ALTER EVENT TRIGGER %I ENABLE ALWAYS', drop_name);
  END IF;
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'threadline: this role may not create event triggers, so capture is generated in portable mode (ALTER TABLE never breaks writes; re-run gen-triggers after schema changes for complete change detection)';
END
$do$;
`;
