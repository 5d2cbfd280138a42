/**
 * Keeping capture in step with DDL (called by the event triggers in ddl-sync.ts and by install).
 * `@S` is the quoted storage schema, `@LIT` its name as a literal.
 *
 * - Regeneration happens only when the table's capture shape changed (name, columns and types,
 *   unique indexes); a metadata-only ALTER costs one catalog read and takes no lock of its own.
 * - A new, attached or detached partition only gets (or loses) its own triggers: creating the
 *   300th partition does not touch the other 299.
 * - Options are configured by column NAME and the registry keeps every configured name: a column
 *   dropped and added again under a masked name is masked again; a rename adds the new name.
 *   Names survive pg_dump/pg_restore, attribute numbers do not.
 * - The user's trigger state (DISABLE / ENABLE REPLICA / ENABLE ALWAYS) survives regeneration.
 * - Internal DDL is marked by a per-operation nonce that only Threadline's own functions can
 *   register, so a session cannot pretend to be Threadline (`threadline.syncing` is not a switch).
 */
export const CAPTURE_REFRESH = String.raw`
-- Mark the current operation as Threadline's own: internal_begin returns the mark it found
-- (nested calls share one) and internal_end(that value) ends the mark it started. EXECUTE is
-- revoked from PUBLIC; the nonce row exists only inside the operation (never committed), so no
-- session can observe or reuse it.
CREATE OR REPLACE FUNCTION @S.internal_begin() RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  prev text := coalesce(current_setting('threadline.syncing', true), '');
  nonce text;
BEGIN
  IF prev <> '' AND EXISTS (SELECT 1 FROM @S.internal_nonce WHERE id = prev) THEN RETURN prev; END IF;
  nonce := gen_random_uuid()::text;
  INSERT INTO @S.internal_nonce (id) VALUES (nonce);
  -- set_config outside this function's own SET clause: it outlives this call, as intended.
  PERFORM set_config('threadline.syncing', nonce, true);
  RETURN '';
END
$fn$;
REVOKE ALL ON FUNCTION @S.internal_begin() FROM PUBLIC;

CREATE OR REPLACE FUNCTION @S.internal_end(p_prev text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF p_prev <> '' THEN RETURN; END IF;
  DELETE FROM @S.internal_nonce WHERE id = current_setting('threadline.syncing', true);
  PERFORM set_config('threadline.syncing', '', true);
END
$fn$;
REVOKE ALL ON FUNCTION @S.internal_end(text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @S.internal_guarded() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT coalesce(current_setting('threadline.syncing', true), '') <> ''
     AND EXISTS (SELECT 1 FROM @S.internal_nonce WHERE id = current_setting('threadline.syncing', true))
$fn$;

-- Everything the generated capture function depends on. Equal shape: no regeneration needed.
-- PL/pgSQL (not SQL) so the catalog queries are planned once per session, not on every call.
CREATE OR REPLACE FUNCTION @S.capture_shape(p_relid oid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  RETURN md5(concat_ws('|',
    (SELECT format('%I.%I:%s', n.nspname, c.relname, c.relkind) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = p_relid),
    (SELECT string_agg(format('%I:%s:%s:%s', a.attname, a.atttypid, a.attcollation, a.attnotnull), ',' ORDER BY a.attname COLLATE "C")
       FROM pg_attribute a WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped),
    (SELECT string_agg(format('%s:%s:%s:%s:%s:%s', ix.indexrelid, ix.indisprimary, ix.indisvalid, ix.indimmediate, ix.indkey,
                              ix.indpred IS NULL AND ix.indexprs IS NULL), ',' ORDER BY ix.indexrelid)
       FROM pg_index ix WHERE ix.indrelid = p_relid AND ix.indisunique)));
END
$fn$;

-- The relations that carry a table's triggers: the table, or every member of its partition tree.
CREATE OR REPLACE FUNCTION @S.capture_relations(p_relid oid) RETURNS oid[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  RETURN (SELECT coalesce(array_agg(t.relid ORDER BY t.level, t.relid), '{}')
    FROM (SELECT p_relid AS relid, 0 AS level
          UNION
          SELECT pt.relid, pt.level FROM pg_partition_tree(p_relid) pt) t
    JOIN pg_class c ON c.oid = t.relid WHERE c.relkind IN ('r', 'p'));
END
$fn$;

CREATE OR REPLACE FUNCTION @S.capture_trigger_names() RETURNS text[]
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT ARRAY['threadline_capture_insert', 'threadline_capture_update', 'threadline_capture_delete', 'threadline_capture_truncate',
               'threadline_capture_before']
$fn$;

-- True when p_fn is one of Threadline's generated capture functions.
CREATE OR REPLACE FUNCTION @S.capture_is_function(p_fn oid) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  RETURN EXISTS (SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE p.oid = p_fn AND n.nspname = @LIT AND p.prorettype = 'trigger'::regtype AND p.proname LIKE E'capture\\_%');
END
$fn$;

-- Give one relation the four capture triggers calling p_fn: copies under other names (a renamed
-- trigger) are removed so nothing is captured twice, and the user's enabled state is kept.
CREATE OR REPLACE FUNCTION @S.capture_attach(p_target regclass, p_fn regprocedure) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  names text[] := @S.capture_trigger_names();
  states jsonb;
  r record;
  mark text;
BEGIN
  -- Already exactly right (the common case when a column change regenerates the function in
  -- place): nothing to do, and no lock on the relation.
  IF (SELECT count(*) FROM pg_trigger tg
       WHERE tg.tgrelid = p_target AND NOT tg.tgisinternal AND @S.capture_is_function(tg.tgfoid)) = 5
     AND (SELECT count(*) FROM pg_trigger tg
           WHERE tg.tgrelid = p_target AND tg.tgfoid = p_fn AND tg.tgqual IS NULL
             AND (tg.tgname, tg.tgtype, coalesce(tg.tgoldtable, ''), coalesce(tg.tgnewtable, '')) IN (
                   ('threadline_capture_insert', 4, '', 'threadline_new_rows'),
                   ('threadline_capture_update', 16, 'threadline_old_rows', 'threadline_new_rows'),
                   ('threadline_capture_delete', 8, 'threadline_old_rows', ''),
                   ('threadline_capture_truncate', 32, '', ''))) = 4
     AND EXISTS (SELECT 1 FROM pg_trigger tg
                  WHERE tg.tgrelid = p_target AND tg.tgname = 'threadline_capture_before' AND tg.tgtype = 30 AND tg.tgqual IS NULL
                    AND tg.tgfoid = to_regprocedure(format('%I.capture_statement_start()', @LIT))) THEN
    RETURN;
  END IF;
  mark := @S.internal_begin();
  FOR r IN SELECT tg.tgname FROM pg_trigger tg
            WHERE tg.tgrelid = p_target AND NOT tg.tgisinternal AND NOT tg.tgname = ANY(names) AND @S.capture_is_function(tg.tgfoid) LOOP
    EXECUTE format('DROP TRIGGER %I ON %s', r.tgname, p_target);
  END LOOP;
  SELECT jsonb_object_agg(tg.tgname, tg.tgenabled) INTO states FROM pg_trigger tg
   WHERE tg.tgrelid = p_target AND tg.tgname = ANY(names) AND tg.tgenabled <> 'O';
  EXECUTE format('CREATE OR REPLACE TRIGGER threadline_capture_insert AFTER INSERT ON %s REFERENCING NEW TABLE AS threadline_new_rows FOR EACH STATEMENT EXECUTE FUNCTION %s', p_target, p_fn);
  EXECUTE format('CREATE OR REPLACE TRIGGER threadline_capture_update AFTER UPDATE ON %s REFERENCING OLD TABLE AS threadline_old_rows NEW TABLE AS threadline_new_rows FOR EACH STATEMENT EXECUTE FUNCTION %s', p_target, p_fn);
  EXECUTE format('CREATE OR REPLACE TRIGGER threadline_capture_delete AFTER DELETE ON %s REFERENCING OLD TABLE AS threadline_old_rows FOR EACH STATEMENT EXECUTE FUNCTION %s', p_target, p_fn);
  EXECUTE format('CREATE OR REPLACE TRIGGER threadline_capture_truncate AFTER TRUNCATE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %s', p_target, p_fn);
  -- Notes when each statement started (captured_at orders a statement before what its own row
  -- triggers write): one shared function, see runtime-functions.
  EXECUTE format('CREATE OR REPLACE TRIGGER threadline_capture_before BEFORE INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT EXECUTE FUNCTION %I.capture_statement_start()', p_target, @LIT);
  FOR r IN SELECT key, value FROM jsonb_each_text(coalesce(states, '{}')) LOOP
    EXECUTE format('ALTER TABLE ONLY %s %s TRIGGER %I', p_target,
      CASE r.value WHEN 'D' THEN 'DISABLE' WHEN 'R' THEN 'ENABLE REPLICA' ELSE 'ENABLE ALWAYS' END, r.key);
  END LOOP;
  PERFORM @S.internal_end(mark);
END
$fn$;

-- A partition left the audited tree (detached or dropped): its rows left the table, so that is
-- recorded like a TRUNCATE of that partition.
CREATE OR REPLACE FUNCTION @S.capture_partition_gone(p_root oid, p_partition text, p_how text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  reg record;
BEGIN
  SELECT ct.table_schema, ct.table_name, ct.table_id INTO reg FROM @S.captured_tables ct WHERE ct.relid = p_root;
  IF reg IS NULL THEN RETURN; END IF;
  INSERT INTO @S.audit_changes (transaction_id, table_schema, table_name, table_id, key_hash, op, table_pk, data_before, captured_at)
  VALUES (@S.current_transaction_id(), reg.table_schema, reg.table_name, reg.table_id, jsonb_hash_extended('{}'::jsonb, 0), 'truncate', '{}'::jsonb,
          jsonb_build_object('partition', p_partition, p_how, true), clock_timestamp());
END
$fn$;

-- Bring the triggers of a table's tree in line without regenerating its function.
CREATE OR REPLACE FUNCTION @S.capture_sync_relations(p_relid oid, p_fn regprocedure) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  wanted oid[] := @S.capture_relations(p_relid);
  names text[] := @S.capture_trigger_names();
  r record;
  t record;
  mark text;
  found_rows boolean;
BEGIN
  FOR r IN SELECT w FROM unnest(wanted) w
            WHERE (SELECT count(*) FROM pg_trigger tg WHERE tg.tgrelid = w AND tg.tgfoid = p_fn AND tg.tgname = ANY(names)) < 4 LOOP
    PERFORM @S.capture_attach(r.w::regclass, p_fn);
    -- An attached table's rows arrive without history (nothing was captured for them).
    IF r.w <> p_relid AND NOT r.w = ANY(coalesce((SELECT ct.relations FROM @S.captured_tables ct WHERE ct.relid = p_relid), '{}'))
       AND (SELECT c.relkind FROM pg_class c WHERE c.oid = r.w) = 'r' THEN
      EXECUTE format('SELECT EXISTS (SELECT FROM %s)', r.w::regclass) INTO STRICT found_rows;
      IF found_rows THEN
        RAISE WARNING 'threadline: % was attached to audited table % with rows that have no history', r.w::regclass, p_relid::regclass
          USING HINT = format('threadline continuity report lists them; record them as a baseline: threadline continuity baseline --table %s', p_relid::regclass);
      END IF;
    END IF;
  END LOOP;
  FOR r IN SELECT DISTINCT tg.tgrelid FROM pg_trigger tg WHERE tg.tgfoid = p_fn AND NOT tg.tgrelid = ANY(wanted) LOOP
    PERFORM @S.capture_partition_gone(p_relid, (SELECT format('%I.%I', ns.nspname, cl.relname) FROM pg_class cl
                                                   JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE cl.oid = r.tgrelid), 'detached');
    mark := @S.internal_begin();
    FOR t IN SELECT tg.tgname, tg.tgrelid FROM pg_trigger tg
              WHERE tg.tgrelid = r.tgrelid AND (tg.tgfoid = p_fn OR tg.tgname = 'threadline_capture_before') LOOP
      EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tgrelid::regclass);
    END LOOP;
    PERFORM @S.internal_end(mark);
  END LOOP;
  UPDATE @S.captured_tables SET relations = wanted WHERE relid = p_relid AND relations IS DISTINCT FROM wanted;
END
$fn$;

-- The triggers of a table's tree without regenerating its function: only the new partitions
-- (p_created, from CREATE TABLE ... PARTITION OF) or every relation (NULL).
CREATE OR REPLACE FUNCTION @S.capture_sync_tree(p_relid oid, p_fn regprocedure, p_created oid[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  k oid;
BEGIN
  IF p_created IS NULL THEN
    PERFORM @S.capture_sync_relations(p_relid, p_fn);
    RETURN;
  END IF;
  FOREACH k IN ARRAY p_created LOOP
    PERFORM @S.capture_attach(k::regclass, p_fn);
  END LOOP;
  UPDATE @S.captured_tables SET relations = coalesce(relations, '{}') || ARRAY(SELECT c FROM unnest(p_created) c WHERE NOT c = ANY(coalesce(relations, '{}')))
   WHERE relid = p_relid;
END
$fn$;

-- Record what a generation was made from (called by enable_capture after it registers a table).
CREATE OR REPLACE FUNCTION @S.capture_registered(p_relid oid) RETURNS void
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $fn$
  UPDATE @S.captured_tables SET shape = @S.capture_shape(p_relid), relations = @S.capture_relations(p_relid) WHERE relid = p_relid
$fn$;

-- Options as configured, with renamed columns' new names added (old names stay: by name, a
-- column that comes back under a configured name is redacted again).
CREATE OR REPLACE FUNCTION @S.capture_follow_renames(p_options jsonb, p_renames jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  opts jsonb := p_options;
  k text;
BEGIN
  FOREACH k IN ARRAY ARRAY['exclude', 'mask', 'exceptColumns'] LOOP
    IF jsonb_typeof(opts -> k) = 'array' THEN
      opts := jsonb_set(opts, ARRAY[k], (
        SELECT coalesce(jsonb_agg(v.n ORDER BY v.o), '[]'::jsonb) FROM (
          SELECT u.n, min(u.o) AS o FROM (
            SELECT e.name AS n, e.ord * 2 AS o FROM jsonb_array_elements_text(opts -> k) WITH ORDINALITY e(name, ord)
            UNION ALL
            SELECT p_renames ->> e.name, e.ord * 2 + 1 FROM jsonb_array_elements_text(opts -> k) WITH ORDINALITY e(name, ord)
             WHERE p_renames ? e.name) u GROUP BY u.n) v));
    END IF;
  END LOOP;
  IF jsonb_typeof(opts -> 'primaryKey') = 'array' THEN
    opts := jsonb_set(opts, '{primaryKey}', (SELECT jsonb_agg(coalesce(p_renames ->> e.name, e.name) ORDER BY e.ord)
                                               FROM jsonb_array_elements_text(opts -> 'primaryKey') WITH ORDINALITY e(name, ord)));
  END IF;
  RETURN opts;
END
$fn$;

-- Regenerate a captured table after DDL when (and only when) its capture shape changed, the
-- function is missing, or compiled mode lost its event trigger. Never loses configuration: the
-- registry keeps the configured options even when capture has to fall back to portable mode.
-- Lock timeouts, cancels and deadlocks are raised, never hidden behind a fallback.
-- p_defer (the DDL event triggers): when the function can be regenerated later in this
-- transaction, only follow renames and mark it pending (capture-deferred.ts).
DROP FUNCTION IF EXISTS @S.refresh_capture(oid);
DROP FUNCTION IF EXISTS @S.refresh_capture(oid, boolean);
DROP FUNCTION IF EXISTS @S.refresh_capture(oid, boolean, oid[]);
CREATE OR REPLACE FUNCTION @S.refresh_capture(p_relid oid, p_force boolean DEFAULT false, p_created oid[] DEFAULT NULL,
                                              p_defer boolean DEFAULT false) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  reg record;
  cur_schema text;
  cur_name text;
  cur_shape text;
  fn regprocedure;
  now_cols jsonb;
  now_names text[];
  gone text[];
  fresh text[];
  renames jsonb := '{}'::jsonb;
  configured jsonb;
  effective jsonb;
  k text;
  fallback boolean := false;
  mode_ok boolean;
  rels oid[];
BEGIN
  SELECT ct.* INTO reg FROM @S.captured_tables ct WHERE ct.relid = p_relid;
  IF reg IS NULL THEN RETURN; END IF;
  SELECT ns.nspname, cl.relname INTO cur_schema, cur_name FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE cl.oid = p_relid;
  IF cur_name IS NULL THEN RETURN; END IF;
  cur_shape := @S.capture_shape(p_relid);
  fn := to_regprocedure(format('%I.%I()', storage, reg.function_name));
  mode_ok := reg.mode = 'portable' OR EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'threadline_sync_' || md5(storage) AND evtenabled = 'A');
  IF NOT p_force AND reg.shape IS NOT DISTINCT FROM cur_shape AND fn IS NOT NULL AND mode_ok THEN
    PERFORM @S.capture_sync_tree(p_relid, fn, p_created);
    RETURN;
  END IF;

  SELECT coalesce(jsonb_object_agg(a.attnum::text, a.attname::text), '{}'::jsonb), coalesce(array_agg(a.attname::text), '{}')
    INTO now_cols, now_names
    FROM pg_attribute a WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped;
  SELECT coalesce(array_agg(j.value) FILTER (WHERE NOT j.value = ANY(now_names)), '{}') INTO gone FROM jsonb_each_text(reg.columns) j;
  SELECT coalesce(array_agg(n) FILTER (WHERE NOT n = ANY(ARRAY(SELECT j.value FROM jsonb_each_text(reg.columns) j))), '{}')
    INTO fresh FROM unnest(now_names) n;
  IF cardinality(gone) > 0 AND cardinality(fresh) > 0 THEN
    IF NOT EXISTS (SELECT 1 FROM jsonb_each_text(reg.columns) j WHERE j.value = ANY(now_names) AND now_cols ->> j.key IS DISTINCT FROM j.value) THEN
      -- Attribute numbers in the registry are current: a gone name whose number now carries a new name was renamed.
      SELECT coalesce(jsonb_object_agg(j.value, now_cols ->> j.key), '{}'::jsonb) INTO renames
        FROM jsonb_each_text(reg.columns) j WHERE j.value = ANY(gone) AND (now_cols ->> j.key) = ANY(fresh);
    ELSIF cardinality(gone) = 1 AND cardinality(fresh) = 1 THEN
      -- Numbers were renumbered (a restore): one name out, one in is taken as a rename (redacts more, never less).
      renames := jsonb_build_object(gone[1], fresh[1]);
    END IF;
  END IF;
  configured := @S.capture_follow_renames(reg.options, renames);
  effective := configured;
  FOREACH k IN ARRAY ARRAY['exclude', 'mask', 'exceptColumns', 'primaryKey'] LOOP
    IF jsonb_typeof(effective -> k) = 'array' THEN
      effective := jsonb_set(effective, ARRAY[k], coalesce((
        SELECT jsonb_agg(e.name ORDER BY e.ord) FROM jsonb_array_elements_text(effective -> k) WITH ORDINALITY e(name, ord)
         WHERE e.name = ANY(now_names) AND (k <> 'mask' OR NOT (effective -> 'exclude') ? e.name)), '[]'::jsonb));
    END IF;
  END LOOP;
  IF jsonb_typeof(configured -> 'primaryKey') = 'array'
     AND jsonb_array_length(effective -> 'primaryKey') < jsonb_array_length(configured -> 'primaryKey') THEN
    effective := effective - 'primaryKey';
  END IF;
  -- Deferred: the registry follows this statement's renames now (the next statement compares
  -- against it), the function is regenerated once, before this transaction's next write to the
  -- table or at commit. Not when the function's name changes (a renamed table: the triggers must
  -- call the new one) or when a capture trigger could fire without the BEFORE STATEMENT trigger
  -- that regenerates (another enabled state on the same relation).
  IF p_defer THEN
    rels := coalesce(reg.relations, @S.capture_relations(p_relid));
    -- What would refuse the regeneration anyway is refused at the DDL, as when it regenerated at
    -- once: a key column (primaryKey option, else the primary key) that is masked or excluded.
    SELECT string_agg(tl_key, ', ') INTO k FROM unnest(coalesce(
        CASE WHEN jsonb_typeof(effective -> 'primaryKey') = 'array' THEN ARRAY(SELECT jsonb_array_elements_text(effective -> 'primaryKey')) END,
        ARRAY(SELECT a.attname::text FROM pg_index ix JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ANY(ix.indkey)
               WHERE ix.indrelid = p_relid AND ix.indisprimary))) tl_key
     WHERE (effective -> 'mask') ? tl_key OR (effective -> 'exclude') ? tl_key;
    IF k IS NOT NULL THEN
      PERFORM @S.capture_refuse('TLRF1', format('%I.%I: key column(s) %s cannot be excluded or masked', cur_schema, cur_name, k),
        'Audit rows are found by their key; remove these columns from exclude/mask.');
    END IF;
  END IF;
  -- With track_counts off (superuser, also in a function's SET clause) the pending row would not be
  -- counted, and a writer's BEFORE trigger skips the table unless its count is above zero, even
  -- after track_counts is back on (capture_statement_start): regenerate at once instead.
  IF p_defer AND fn IS NOT NULL AND mode_ok AND reg.table_schema = cur_schema AND reg.table_name = cur_name
     AND current_setting('track_counts') = 'on'
     AND NOT EXISTS (SELECT 1 FROM pg_trigger tg
                      WHERE tg.tgrelid = ANY(rels) AND tg.tgname = ANY(@S.capture_trigger_names())
                      GROUP BY tg.tgrelid
                     HAVING count(DISTINCT tg.tgenabled) > 1 OR NOT bool_or(tg.tgname = 'threadline_capture_before')) THEN
    UPDATE @S.captured_tables SET options = configured, columns = now_cols
     WHERE relid = p_relid AND (options, columns) IS DISTINCT FROM (configured, now_cols);
    PERFORM @S.capture_sync_tree(p_relid, fn, p_created);
    -- One row per relation of the tree: a writer's BEFORE trigger finds its own by oid.
    INSERT INTO @S.capture_pending (relid)
    SELECT tl_rel FROM unnest((SELECT ct.relations FROM @S.captured_tables ct WHERE ct.relid = p_relid) || p_relid) tl_rel
    ON CONFLICT DO NOTHING;
    RETURN;
  END IF;
  DELETE FROM @S.capture_pending p WHERE p.xid = pg_current_xact_id() AND coalesce(pg_partition_root(p.relid), p.relid) = p_relid;
  PERFORM set_config('threadline.regenerating', 'on', true);  -- enable_capture: no install-time warnings again
  BEGIN
    PERFORM @S.enable_capture(cur_schema, cur_name, effective);
  EXCEPTION WHEN others THEN
    IF left(SQLSTATE, 2) IN ('40', '53', '54', '55', '57', '58', 'XX') THEN RAISE; END IF;
    RAISE WARNING 'threadline: capture for %.% could not be regenerated as configured: %', quote_ident(cur_schema), quote_ident(cur_name), SQLERRM
      USING HINT = 'Capture continues in portable mode and the configured options are kept. Fix the table or its Threadline options, then run threadline gen-triggers.';
    PERFORM @S.enable_capture(cur_schema, cur_name, effective - 'primaryKey', 'portable', true);
    fallback := true;
  END;
  PERFORM set_config('threadline.regenerating', '', true);
  UPDATE @S.captured_tables
     SET options = configured,
         shape = CASE WHEN fallback THEN NULL ELSE cur_shape END,
         former_names = CASE WHEN (reg.table_schema, reg.table_name) IS DISTINCT FROM (cur_schema, cur_name)
           THEN coalesce(former_names, '[]'::jsonb) || jsonb_build_array(jsonb_build_object('schema', reg.table_schema, 'name', reg.table_name, 'until', now()))
           ELSE former_names END
   WHERE relid = p_relid;
END
$fn$;
`;
