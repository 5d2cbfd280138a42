/**
 * Installing and removing capture: the generated function, the triggers on the table and every
 * partition, and the registry row, in the caller's transaction (no capture gap). `@S` is the
 * quoted storage schema, `@LIT` its name as a string literal. Warnings of the plan (limits that
 * PostgreSQL itself imposes on this table) are raised as WARNINGs and returned in the plan.
 */
export const CAPTURE_INSTALL = String.raw`
-- Install (or replace in place) capture for one table and its partitions. One transaction: no gap.
CREATE OR REPLACE FUNCTION @S.enable_capture(p_schema text, p_name text, p_options jsonb DEFAULT '{}'::jsonb,
                                             p_mode text DEFAULT NULL, p_allow_keyless boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  plan jsonb;
  rel oid;
  fn regprocedure;
  old_fn text;
  r record;
  target text;
  wanted oid[] := '{}';
  mark text;
BEGIN
  -- The table's own lock (the one CREATE TRIGGER takes), taken before planning: no stale plan,
  -- and no database-wide lock that would make two migrations deadlock. Not when this transaction
  -- already holds SHARE UPDATE EXCLUSIVE or stronger on it (the DDL being followed does): that
  -- lock already keeps every shape change out (each takes SHARE or stronger), and regenerating
  -- the function body (CREATE OR REPLACE FUNCTION) needs no table lock. Taking more there would
  -- make the DDL's COMMIT wait for (or deadlock with) writers it does not wait for without
  -- capture (issue 18). CREATE TRIGGER still takes its own lock if triggers are missing.
  IF to_regclass(format('%I.%I', p_schema, p_name)) IS NOT NULL
     AND NOT EXISTS (SELECT 1 FROM pg_locks l
                      WHERE l.locktype = 'relation' AND l.relation = to_regclass(format('%I.%I', p_schema, p_name))
                        AND l.database = (SELECT d.oid FROM pg_database d WHERE d.datname = current_database())
                        AND l.pid = pg_backend_pid() AND l.granted
                        AND l.mode IN ('ShareUpdateExclusiveLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')) THEN
    EXECUTE format('LOCK TABLE %I.%I IN SHARE ROW EXCLUSIVE MODE', p_schema, p_name);
  END IF;
  plan := @S.capture_plan(p_schema, p_name, p_options, p_mode, p_allow_keyless);
  rel := (plan ->> 'relid')::oid;
  SELECT function_name INTO old_fn FROM @S.captured_tables WHERE relid = rel;
  -- Raised when capture is installed (gen-triggers), not again on every regeneration after DDL
  -- (refresh_capture marks those): the table's limits did not change with its columns.
  IF coalesce(current_setting('threadline.regenerating', true), '') = '' THEN
    FOR target IN SELECT jsonb_array_elements_text(plan -> 'warnings') LOOP
      RAISE WARNING 'threadline: %', target;
    END LOOP;
  END IF;
  EXECUTE plan ->> 'functionSql';
  fn := format('%I.%I()', storage, plan ->> 'functionName')::regprocedure;
  EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);  -- runs as definer: owner only (privileges.ts)
  FOR target IN SELECT jsonb_array_elements_text(plan -> 'relations') LOOP
    wanted := wanted || target::regclass::oid;
    PERFORM @S.capture_attach(target::regclass, fn);
  END LOOP;
  -- Triggers that still call this table's function (old or current) on relations outside the
  -- table's partition tree (a detached partition) are removed, then an unused old function.
  FOR r IN
    SELECT tg.tgname, tg.tgrelid::regclass AS relname FROM pg_trigger tg
      JOIN (SELECT DISTINCT t2.tgrelid FROM pg_trigger t2
             WHERE t2.tgfoid = fn OR (old_fn IS NOT NULL AND t2.tgfoid = to_regprocedure(format('%I.%I()', storage, old_fn)))) mine
        ON mine.tgrelid = tg.tgrelid
     WHERE (tg.tgfoid = fn OR (old_fn IS NOT NULL AND tg.tgfoid = to_regprocedure(format('%I.%I()', storage, old_fn)))
            OR (tg.tgname = 'threadline_capture_before' AND tg.tgfoid = to_regprocedure(format('%I.capture_statement_start()', storage))
                -- not on a relation another table's capture still uses (a foreign trigger there calls ours)
                AND NOT EXISTS (SELECT 1 FROM pg_trigger t3 WHERE t3.tgrelid = tg.tgrelid AND NOT t3.tgisinternal
                                   AND @S.capture_is_function(t3.tgfoid) AND t3.tgfoid <> fn
                                   AND t3.tgfoid <> to_regprocedure(format('%I.capture_statement_start()', storage))
                                   AND NOT (old_fn IS NOT NULL AND t3.tgfoid = to_regprocedure(format('%I.%I()', storage, old_fn))))))
       AND NOT tg.tgrelid = ANY(wanted)
  LOOP
    mark := @S.internal_begin();
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.tgname, r.relname);
    PERFORM @S.internal_end(mark);
  END LOOP;
  IF old_fn IS NOT NULL AND old_fn <> plan ->> 'functionName' THEN
    EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', storage, old_fn);
  END IF;
  INSERT INTO @S.captured_tables AS ct (relid, table_schema, table_name, options, key_columns, columns, function_name, mode, generated_at, table_id)
  VALUES (rel, p_schema, p_name, plan -> 'options', ARRAY(SELECT jsonb_array_elements_text(plan -> 'keyColumns')),
          plan -> 'columns', plan ->> 'functionName', plan ->> 'mode', now(), (plan ->> 'tableId')::integer)
  ON CONFLICT (relid) DO UPDATE SET table_schema = EXCLUDED.table_schema, table_name = EXCLUDED.table_name, table_id = EXCLUDED.table_id,
    options = EXCLUDED.options, key_columns = EXCLUDED.key_columns, columns = EXCLUDED.columns,
    function_name = EXCLUDED.function_name, mode = EXCLUDED.mode, generated_at = EXCLUDED.generated_at;
  -- Every name the table id is captured under (a rename or schema move adds one; table_ids()).
  INSERT INTO @S.audit_table_names (table_schema, table_name, table_id)
    VALUES (p_schema, p_name, (plan ->> 'tableId')::integer) ON CONFLICT DO NOTHING;
  PERFORM @S.capture_registered(rel);
  RETURN plan - 'functionSql' - 'columns';
END
$fn$;

-- Remove capture from a table and its partitions (audit rows already captured are kept).
CREATE OR REPLACE FUNCTION @S.disable_capture(p_schema text, p_name text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  reg record;
  r record;
  mark text;
BEGIN
  SELECT ct.* INTO reg FROM @S.captured_tables ct WHERE ct.table_schema = p_schema AND ct.table_name = p_name;
  IF reg IS NULL THEN RETURN false; END IF;
  mark := @S.internal_begin();
  FOR r IN SELECT tg.tgname, tg.tgrelid::regclass AS relname FROM pg_trigger tg
            WHERE tg.tgfoid = to_regprocedure(format('%I.%I()', storage, reg.function_name))
               OR (tg.tgname = 'threadline_capture_before' AND tg.tgfoid = to_regprocedure(format('%I.capture_statement_start()', storage))
                   AND EXISTS (SELECT 1 FROM pg_trigger t2 WHERE t2.tgrelid = tg.tgrelid
                                  AND t2.tgfoid = to_regprocedure(format('%I.%I()', storage, reg.function_name)))
                   -- not on a relation another table's capture still uses (a foreign trigger there calls ours)
                   AND NOT EXISTS (SELECT 1 FROM pg_trigger t3 WHERE t3.tgrelid = tg.tgrelid AND NOT t3.tgisinternal
                                      AND @S.capture_is_function(t3.tgfoid)
                                      AND t3.tgfoid <> to_regprocedure(format('%I.%I()', storage, reg.function_name))
                                      AND t3.tgfoid <> to_regprocedure(format('%I.capture_statement_start()', storage)))) LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.tgname, r.relname);
  END LOOP;
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', storage, reg.function_name);
  DELETE FROM @S.captured_tables WHERE relid = reg.relid;
  PERFORM @S.internal_end(mark);
  RETURN true;
END
$fn$;

`;
