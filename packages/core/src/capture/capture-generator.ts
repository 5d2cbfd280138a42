import { CAPTURE_CHECKS } from './capture-checks.js';
import { CAPTURE_EXPRESSIONS } from './capture-expressions.js';
import { CAPTURE_INSTALL } from './capture-install.js';
import { CAPTURE_PLAN_GUARD } from './capture-plan-guard.js';

/**
 * The capture generator lives in the database so that the DDL event trigger can regenerate a
 * table's capture function inside the same transaction as an ALTER TABLE (no stale function, no
 * capture gap). `@S` is the quoted storage schema, `@LIT` its name as a string literal. Its parts:
 * capture-checks.ts (options, relation, key), capture-expressions.ts (aliases, comparisons, row
 * images), capture_plan below (the statements), capture-install.ts (triggers, registry).
 *
 * Design (see docs/capture.md for the why):
 * - one generated plpgsql function per audited table, called by four statement-level triggers
 *   (INSERT/UPDATE/DELETE with transition tables, TRUNCATE) on the table and on every partition,
 *   plus one BEFORE STATEMENT trigger that notes when the statement started (captured_at);
 * - each call runs one INSERT ... SELECT over the transition tables; UPDATE pairs old and new rows
 *   by their position in the transition tables (PostgreSQL appends both in lockstep), so an UPDATE
 *   that changes the key is paired correctly, even a key shift like `SET id = id + 1`; when the two
 *   differ in length (a BEFORE INSERT trigger dropped a row moved between partitions) by key;
 * - the audit transaction id comes from a lazily evaluated initplan, so statements that change
 *   nothing write nothing;
 * - `compiled` mode reads columns natively (fastest) and relies on the DDL event trigger to
 *   regenerate after ALTER TABLE; `portable` mode (no event trigger available) reads every value
 *   through to_jsonb(row) so no ALTER can make it fail, and hides rows whose redacted columns it
 *   can no longer find rather than leak them;
 * - a change is what the audit row can show: values are compared as stored (capture_compare), never
 *   with a type's `=`; no column name can shadow an alias (capture_alias);
 * - a plan guard (set_config around the statement, not SET clauses, which cost on every call)
 *   pins one plan shape (hash join, no JIT) whatever row count the cached plan was made for, and
 *   TimeZone=UTC makes captured timestamps and keys stable; a single-row UPDATE has its own
 *   statement, planned only for one row, that needs no guard (unless for TimeZone).
 */
const CAPTURE_PLAN = String.raw`
-- Work out everything needed to capture one table; raises with an actionable message when the
-- table cannot be captured (capture_check). Changes nothing. p_mode: NULL (auto), 'compiled' or
-- 'portable'.
CREATE OR REPLACE FUNCTION @S.capture_plan(p_schema text, p_name text, p_options jsonb DEFAULT '{}'::jsonb,
                                           p_mode text DEFAULT NULL, p_allow_keyless boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  label text := format('%I.%I', p_schema, p_name);
  chk jsonb := @S.capture_check(p_schema, p_name, p_options, p_allow_keyless);
  rel oid := (chk ->> 'relid')::oid;
  rel_kind "char" := (chk ->> 'relkind')::"char";
  -- The table id (kept across renames: the registry row follows the relation); a new table gets the next one.
  tid integer := coalesce((SELECT ct.table_id FROM @S.captured_tables ct WHERE ct.relid = rel),
                          nextval(format('%I.audit_table_id_seq', storage)::regclass)::integer);
  cols text[] := ARRAY(SELECT jsonb_array_elements_text(chk -> 'columns'));
  col_types oid[] := ARRAY(SELECT e::oid FROM jsonb_array_elements_text(chk -> 'types') e);
  key_cols text[] := ARRAY(SELECT jsonb_array_elements_text(chk -> 'keyColumns'));
  o_exclude text[] := ARRAY(SELECT jsonb_array_elements_text(chk -> 'options' -> 'exclude'));
  o_mask text[] := ARRAY(SELECT jsonb_array_elements_text(chk -> 'options' -> 'mask'));
  o_except text[] := ARRAY(SELECT jsonb_array_elements_text(chk -> 'options' -> 'exceptColumns'));
  placeholder text := chk -> 'options' ->> 'maskPlaceholder';
  with_changed_from boolean := (chk -> 'options' ->> 'changedFrom')::boolean;
  with_delete_snapshot boolean := (chk -> 'options' ->> 'deleteSnapshot')::boolean;
  mode text;
  fn_name text;
  -- Aliases that are no column name (capture_alias): the transition row, the new/old/paired
  -- subqueries, the row number, the row image.
  a_r text := @S.capture_alias('tl_r', cols);
  a_n text := @S.capture_alias('tl_n', cols);
  a_o text := @S.capture_alias('tl_o', cols);
  a_x text := @S.capture_alias('tl_x', cols);
  a_rn text := @S.capture_alias('tl_rn', cols);
  a_j text := @S.capture_alias('tl_j', cols);
  a_k text := @S.capture_alias('tl_k', cols);    -- a row's key object (INSERT, DELETE)
  a_at text := @S.capture_alias('tl_at', cols);  -- the plpgsql variable holding captured_at
  a_co text := @S.capture_alias('tl_co', cols);  -- plpgsql variables: old and new row counts (UPDATE),
  a_cn text := @S.capture_alias('tl_cn', cols);
  a_g text := @S.capture_alias('tl_g', cols);    -- the settings the plan guard saved,
  a_d text := @S.capture_alias('tl_d', cols);    -- and a discarded result
  needs_utc boolean;
  guard_on text;
  guard_off text;
  pair_kind text;
  pair_cond text;
  rn_expr text;
  upd_pairs text[] := '{}';
  image_skip text[];
  img text;
  a_cmp text;
  diff_cols text[];
  cmp text[] := '{}';
  n integer;
  key_new text;
  key_old text;
  key_changed text;
  k_changed_ref text;  -- the outer query's "the key changed", its old key, and the paired subquery's key columns
  k_old_ref text;
  key_inner text;
  key_col text := '';  -- INSERT and DELETE: the subquery's key object column, and the key each reads
  row_key_n text;
  row_key_o text;
  mask_obj jsonb;
  guard text[];
  guards text[] := '{}';  -- the plan guards' statements: full on, full off, light on, light off
  stale_obj text;
  redact_exclude text[];
  inner_cols text := '';
  fields_expr text;
  from_expr text;
  where_expr text;
  new_src text;
  old_src text;
  pair_src text;
  ins_sql text;
  upd_sql text;
  count_sql text;  -- the UPDATE's row counts, the single-row condition and the statements for more rows
  one_cond text;
  multi_sql text;
  del_sql text;
  trunc_sql text;
  body text;
  fn_sql text;
  relations jsonb := '[]'::jsonb;
  r record;
BEGIN
  PERFORM @S.capture_check_casts(rel);  -- the function runs as its owner (privileges.ts)
  -- Mode: compiled needs the DDL event trigger so that ALTER TABLE regenerates in place.
  mode := coalesce(p_mode, CASE WHEN EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'threadline_sync_' || md5(storage) AND evtenabled = 'A')
                                THEN 'compiled' ELSE 'portable' END);
  fn_name := 'capture_' || left(regexp_replace(p_schema || '_' || p_name, '[^A-Za-z0-9_]+', '_', 'g'), 40)
             || '_' || left(encode(sha256(convert_to(label, 'UTF8')), 'hex'), 12);

  -- Row images. Compiled mode builds them without the excluded columns (never converted);
  -- portable mode must survive columns it does not know, so it converts the row and removes them.
  -- With any redaction configured, a compiled image is built from the columns known at generation
  -- only, by name, and without the masked ones (their placeholder replaces them anyway): a column
  -- renamed or added by DDL that capture did not follow is left out, never stored in clear text
  -- under a name the redaction does not know (no name guard to trust, and no cost per statement).
  image_skip := CASE WHEN mode = 'compiled' THEN o_exclude ELSE '{}' END;
  img := CASE WHEN mode = 'compiled' THEN @S.capture_image(a_r, cols, o_exclude || o_mask) ELSE format('to_jsonb(%I)', a_r) END;
  -- Portable mode cannot follow renames: a masked or excluded column renamed away keeps its values
  -- under a name it has never seen (and a new column may take the configured name). With any
  -- redaction configured, the values of columns unknown at generation are therefore hidden until
  -- capture is regenerated (threadline gen-triggers), never stored as they are.
  IF mode = 'portable' AND cardinality(o_exclude || o_mask) > 0 THEN
    img := format('%I.capture_hide_unknown(%s, %L::text[])', storage, img, cols);
    -- Changes are still detected on the real values (only what is stored is hidden).
    a_cmp := a_j || '_raw';
  ELSE
    a_cmp := a_j;
  END IF;
  redact_exclude := CASE WHEN mode = 'compiled' THEN '{}' ELSE o_exclude END;

  -- Keys.
  IF mode = 'compiled' THEN
    key_new := (SELECT 'jsonb_build_object(' || string_agg(format('%L, %I.%I', k, a_n, k), ', ') || ')' FROM unnest(key_cols) k);
    key_old := (SELECT 'jsonb_build_object(' || string_agg(format('%L, %I.%I', k, a_o, k), ', ') || ')' FROM unnest(key_cols) k);
    key_changed := (SELECT string_agg(@S.capture_compare(col_types[array_position(cols, k)], format('%I.%I', a_n, k), format('%I.%I', a_o, k)), ' OR ')
                      FROM unnest(key_cols) k);
  ELSE
    key_new := (SELECT 'jsonb_build_object(' || string_agg(format('%L, %I.%I -> %L', k, a_n, a_j, k), ', ') || ')' FROM unnest(key_cols) k);
    key_old := (SELECT 'jsonb_build_object(' || string_agg(format('%L, %I.%I -> %L', k, a_o, a_j, k), ', ') || ')' FROM unnest(key_cols) k);
    key_changed := (SELECT string_agg(format('((%I.%I -> %L)::text COLLATE "C") IS DISTINCT FROM ((%I.%I -> %L)::text COLLATE "C")',
                                             a_n, a_j, k, a_o, a_j, k), ' OR ') FROM unnest(key_cols) k);
  END IF;
  key_new := coalesce(key_new, '''{}''::jsonb');
  key_old := coalesce(key_old, '''{}''::jsonb');
  key_changed := coalesce(key_changed, 'false');
  k_changed_ref := format('%I.k_changed', a_x);
  k_old_ref := format('%I.k_old', a_x);
  key_inner := format('%s AS k_old, %s AS k_changed', key_old, key_changed);

  SELECT jsonb_object_agg(m, placeholder) INTO mask_obj FROM unnest(o_mask) m;
  -- Columns a row image must have for its redaction to apply (compiled images hold known
  -- columns only: nothing to check there).
  guard := CASE WHEN mode = 'portable' THEN o_exclude || o_mask || key_cols ELSE '{}' END;
  stale_obj := format('%L::jsonb', jsonb_build_object('threadline', 'hidden: the table changed shape since capture was generated; run threadline gen-triggers')::text);

  -- Diffed columns: not excluded, not in exceptColumns; sorted so changed_fields is sorted.
  SELECT array_agg(x ORDER BY x COLLATE "C") INTO diff_cols FROM unnest(cols) x WHERE NOT x = ANY(o_exclude || o_except);
  diff_cols := coalesce(diff_cols, '{}');
  IF mode = 'compiled' THEN
    -- One boolean per diffed column, computed once per row (the OFFSET 0 subquery) into one array
    -- (c), plus the old value of each column changed_from may show: the paired subquery has at most
    -- columns + 5 entries, not 2 x columns (PostgreSQL allows 1,664 in a target list).
    FOR n IN 1 .. cardinality(diff_cols) LOOP
      cmp := cmp || @S.capture_compare(col_types[array_position(cols, diff_cols[n])],
                                       format('%I.%I', a_n, diff_cols[n]), format('%I.%I', a_o, diff_cols[n]));
      IF with_changed_from AND NOT diff_cols[n] = ANY(o_mask) THEN
        inner_cols := inner_cols || format(', %I.%I AS o_%s', a_o, diff_cols[n], n);
      END IF;
    END LOOP;
    inner_cols := inner_cols || CASE WHEN cardinality(cmp) = 0 THEN ', NULL::boolean[] AS c'
                                     ELSE ', ARRAY[' || array_to_string(cmp, ', ') || '] AS c' END;
    fields_expr := CASE WHEN cardinality(diff_cols) = 0 THEN 'NULL::text[]' ELSE
      'array_remove(ARRAY[' || (SELECT string_agg(format('CASE WHEN %I.c[%s] THEN %L END', a_x, g, diff_cols[g]), ', ')
                                  FROM generate_series(1, cardinality(diff_cols)) g) || ']::text[], NULL)' END;
    from_expr := CASE WHEN NOT with_changed_from OR cardinality(diff_cols) = 0 THEN 'NULL::jsonb' ELSE
      @S.capture_join(ARRAY(SELECT format('CASE WHEN %I.c[%s] THEN %s ELSE ''{}''::jsonb END', a_x, g,
          CASE WHEN diff_cols[g] = ANY(o_mask) THEN format('%L::jsonb', jsonb_build_object(diff_cols[g], placeholder)::text)
               ELSE format('jsonb_build_object(%L, %I.o_%s)', diff_cols[g], a_x, g) END)
          FROM generate_series(1, cardinality(diff_cols)) g ORDER BY g), ' || ', 'NULL::jsonb') END;
    where_expr := format('%I.k_changed', a_x)
      || CASE WHEN cardinality(cmp) = 0 THEN '' ELSE format(' OR true = ANY(%I.c)', a_x) END;
    -- A key of diffed columns (the usual case) changed when their entries of c say so (the same
    -- comparisons), and its old value is built in the outer query only when it changed: no second
    -- comparison, no object built for every row (each call in a statement is set up again whenever
    -- the statement runs).
    IF cardinality(key_cols) > 0 AND key_cols <@ diff_cols THEN
      k_changed_ref := (SELECT string_agg(format('%I.c[%s]', a_x, array_position(diff_cols, k)), ' OR ' ORDER BY i)
                          FROM unnest(key_cols) WITH ORDINALITY AS u(k, i));
      k_old_ref := (SELECT 'jsonb_build_object(' || string_agg(format('%L, %I.ko_%s', k, a_x, i), ', ' ORDER BY i) || ')'
                      FROM unnest(key_cols) WITH ORDINALITY AS u(k, i));
      key_inner := (SELECT string_agg(format('%I.%I AS ko_%s', a_o, k, i), ', ' ORDER BY i) FROM unnest(key_cols) WITH ORDINALITY AS u(k, i));
      where_expr := format('true = ANY(%I.c)', a_x);
    END IF;
  ELSE
    -- Portable: compare whole row images key by key (as JSON text, so 1.0 -> 1.00 is a change),
    -- so columns added or renamed since generation are still detected; values of a row that
    -- fails the redaction guard are hidden.
    inner_cols := format(', %I.%I AS oj, (SELECT array_agg(tl_k ORDER BY tl_k COLLATE "C") FROM jsonb_object_keys(%I.%I || %I.%I) AS tl_k '
                         'WHERE ((%I.%I -> tl_k)::text COLLATE "C") IS DISTINCT FROM ((%I.%I -> tl_k)::text COLLATE "C") AND NOT tl_k = ANY(%L::text[])) AS fields',
                         a_o, a_j, a_n, a_cmp, a_o, a_cmp, a_n, a_cmp, a_o, a_cmp, o_exclude || o_except);
    fields_expr := format('%I.fields', a_x);
    from_expr := CASE WHEN NOT with_changed_from THEN 'NULL::jsonb' ELSE
      format('(SELECT jsonb_object_agg(tl_k, CASE WHEN tl_k = ANY(%L::text[]) THEN to_jsonb(%L::text) ELSE %I.oj -> tl_k END) FROM unnest(%I.fields) AS tl_k)',
             o_mask, placeholder, a_x, a_x) END;
    IF with_changed_from AND cardinality(guard) > 0 THEN
      from_expr := format('(CASE WHEN %I.j ?& %L::text[] THEN %s ELSE %s END)', a_x, guard, from_expr, stale_obj);
    END IF;
    where_expr := format('%I.k_changed OR cardinality(%I.fields) > 0', a_x, a_x);
  END IF;

  -- OFFSET 0 keeps the row image computed once per row (a flattened subquery would repeat it); in
  -- compiled mode the key object too, which an INSERT or DELETE stores twice (key_hash, table_pk):
  -- built once, not twice (each call in a statement is set up again whenever the statement runs).
  row_key_n := key_new;
  row_key_o := key_old;
  IF mode = 'compiled' AND cardinality(key_cols) > 0 THEN
    key_col := format(', %s AS %I', (SELECT 'jsonb_build_object(' || string_agg(format('%L, %I.%I', k, a_r, k), ', ') || ')'
                                      FROM unnest(key_cols) k), a_k);
    row_key_n := format('%I.%I', a_n, a_k);
    row_key_o := format('%I.%I', a_o, a_k);
  END IF;
  new_src := format('(SELECT %s AS %I%s%s FROM threadline_new_rows AS %I OFFSET 0) AS %I',
                    img, a_j, key_col, CASE WHEN mode = 'compiled' THEN format(', %I.*', a_r) ELSE '' END, a_r, a_n);
  old_src := format('(SELECT %s AS %I%s%s FROM threadline_old_rows AS %I OFFSET 0) AS %I',
                    img, a_j, key_col, CASE WHEN mode = 'compiled' THEN format(', %I.*', a_r) ELSE '' END, a_r, a_o);

  ins_sql := format(
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, table_id, key_hash, op, table_pk, data_after, captured_at) '
    'SELECT (SELECT %I.current_transaction_id()), %L, %L, %s, jsonb_hash_extended(%s, 0), ''insert'', %s, %s, %I FROM %s',
    storage, storage, p_schema, p_name, tid, row_key_n, row_key_n, @S.capture_redact(format('%I.%I', a_n, a_j), redact_exclude, mask_obj, guard, stale_obj), a_at, new_src);
  del_sql := format(
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, table_id, key_hash, op, table_pk, data_before, captured_at) '
    'SELECT (SELECT %I.current_transaction_id()), %L, %L, %s, jsonb_hash_extended(%s, 0), ''delete'', %s, %s, %I FROM %s',
    storage, storage, p_schema, p_name, tid, row_key_o, row_key_o,
    CASE WHEN with_delete_snapshot THEN @S.capture_redact(format('%I.%I', a_o, a_j), redact_exclude, mask_obj, guard, stale_obj) ELSE 'NULL::jsonb' END,
    a_at, old_src);
  -- Old and new rows of an UPDATE are paired by position (PostgreSQL appends both in lockstep, so
  -- key changes pair correctly). A BEFORE INSERT trigger on a destination partition can drop a
  -- row moved there; then the two transition tables differ in length and only the key can pair
  -- them (second variant): rows found on both sides are updates, an old row without a new one
  -- left the table (delete), a new one without an old one is an insert (a key-changing row of
  -- that same statement is then recorded as delete + insert).
  -- A statement that changed one row (the common case: most transactions are a few single-row
  -- writes) pairs its two rows without numbering or joining them (first variant): a plan with no
  -- window or hash node is cheaper to start, and needs no plan guard.
  FOREACH pair_kind IN ARRAY ARRAY['one', 'position', 'key'] LOOP
    pair_cond := CASE pair_kind WHEN 'one' THEN 'true'
                                WHEN 'position' THEN format('%I.%I = %I.%I', a_o, a_rn, a_n, a_rn)
                                WHEN 'key' THEN CASE WHEN cardinality(key_cols) = 0 THEN 'false' ELSE format('%s = %s', key_new, key_old) END END;
    rn_expr := CASE WHEN pair_kind = 'one' THEN '1::bigint' ELSE 'row_number() OVER ()' END;
    pair_src := format(
      '(SELECT %s AS %I, %s AS %I%s FROM threadline_new_rows AS %I) AS %I '
      'JOIN (SELECT %s AS %I%s FROM threadline_old_rows AS %I) AS %I ON %s',
      rn_expr, a_rn, img, a_j, CASE WHEN mode = 'compiled' THEN format(', %I.*', a_r)
                           WHEN a_cmp <> a_j THEN format(', to_jsonb(%I) AS %I', a_r, a_cmp) ELSE '' END, a_r, a_n,
      rn_expr, a_rn, CASE WHEN mode = 'compiled' THEN format(', %I.*', a_r)
                 WHEN a_cmp <> a_j THEN format(', %s AS %I, to_jsonb(%I) AS %I', img, a_j, a_r, a_cmp)
                 ELSE format(', %s AS %I', img, a_j) END,
      a_r, a_o, pair_cond);
    upd_pairs := upd_pairs || format(
      'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, table_id, key_hash, op, table_pk, table_pk_before, data_after, changed_fields, changed_from, captured_at) '
      'SELECT (SELECT %I.current_transaction_id()), %L, %L, %s, jsonb_hash_extended(%I.k_new, 0), ''update'', %I.k_new, CASE WHEN %s THEN %s END, %s, %s, %s, %I '
      'FROM (SELECT %I.%I AS j, %s AS k_new, %s%s FROM %s OFFSET 0) AS %I WHERE %s',
      storage, storage, p_schema, p_name, tid, a_x, a_x, k_changed_ref, k_old_ref,
      @S.capture_redact(format('%I.j', a_x), redact_exclude, mask_obj, guard, stale_obj), fields_expr, from_expr, a_at,
      a_n, a_j, key_new, key_inner, inner_cols, pair_src, a_x, where_expr);
  END LOOP;
  upd_sql := upd_pairs[2];
  upd_pairs[3] := upd_pairs[3]
    || '; ' || del_sql || format(' WHERE NOT EXISTS (SELECT FROM %s WHERE %s = %s)', new_src, key_new, key_old)
    || '; ' || ins_sql || format(' WHERE NOT EXISTS (SELECT FROM %s WHERE %s = %s)', old_src, key_new, key_old);
  -- Only a partition move can make the two transition tables differ in length (a BEFORE INSERT
  -- trigger of the destination partition dropped the moved row). An UPDATE of a table that is not
  -- partitioned puts every row it changed into both, so it only asks whether there is a second old
  -- row (no aggregate, at most two rows read; no row at all pairs nothing either way), and pairs
  -- several rows by position: counting both tables started two subplans on every statement (about
  -- 31K instructions more). Partitions run their parent's function, generated for a partitioned table.
  IF rel_kind = 'p' THEN
    count_sql := format('SELECT (SELECT count(*) FROM threadline_old_rows), (SELECT count(*) FROM threadline_new_rows) INTO %I, %I;', a_co, a_cn);
    one_cond := format('%I = 1 AND %I = 1', a_co, a_cn);
    multi_sql := format(E'IF %I = %I THEN\n      %s;\n    ELSE\n      %s;\n    END IF;', a_co, a_cn, upd_sql, upd_pairs[3]);
  ELSE
    count_sql := 'PERFORM FROM threadline_old_rows OFFSET 1 LIMIT 1;';
    one_cond := 'NOT FOUND';
    multi_sql := upd_sql || ';';
  END IF;
  trunc_sql := format(
    'IF TG_TABLE_SCHEMA = %L AND TG_TABLE_NAME = %L THEN '
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, table_id, key_hash, op, table_pk, captured_at) '
    'VALUES (%I.current_transaction_id(), %L, %L, %s, jsonb_hash_extended(''{}''::jsonb, 0), ''truncate'', ''{}''::jsonb, clock_timestamp()); '
    'PERFORM %I.truncate_started(TG_RELID); '
    'ELSIF NOT %I.truncate_captured(%L, %L, TG_RELID) THEN '
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, table_id, key_hash, op, table_pk, data_before, captured_at) '
    'VALUES (%I.current_transaction_id(), %L, %L, %s, jsonb_hash_extended(''{}''::jsonb, 0), ''truncate'', ''{}''::jsonb, '
    'jsonb_build_object(''partition'', format(''%%I.%%I'', TG_TABLE_SCHEMA, TG_TABLE_NAME)), clock_timestamp()); '
    'END IF;',
    p_schema, p_name, storage, storage, p_schema, p_name, tid, storage, storage, p_schema, p_name, storage, storage, p_schema, p_name, tid);

${CAPTURE_PLAN_GUARD}  -- captured_at: when the statement started (noted by the BEFORE STATEMENT trigger), so a
  -- statement's changes sort before those of statements its own row triggers ran (they are captured
  -- first); kept within the client statement (statement_started_at in runtime-functions.ts says
  -- why), the setting read once, by capture_started_at: one PL/pgSQL function shared by every
  -- capture function, so its expression is set up once per transaction, not once per captured
  -- table (an inlined copy in each cost ~32K instructions more per TPC-B transaction). The
  -- single-row UPDATE needs no plan guard (its statement is only ever planned for one row), only
  -- the output settings when a column needs them.
  body := format(E'-- Threadline capture for %s (%s mode). Generated; regenerate with threadline gen-triggers.\n'
    || E'DECLARE\n  %I timestamptz;\n  %I bigint;\n  %I bigint;\n  %I text[];\n  %I text;\n'
    || E'BEGIN\n'
    || E'  IF TG_OP = ''UPDATE'' THEN\n'
    || E'    %I := %I.capture_started_at();\n'
    || E'    %s\n'
    || E'    IF %s THEN\n      %s\n      %s;\n      %s\n      RETURN NULL;\n    END IF;\n'
    || E'    %s\n    %s\n    %s\n'
    || E'  ELSIF TG_OP = ''INSERT'' THEN\n    %I := %I.capture_started_at();\n    %s\n    %s;\n    %s\n'
    || E'  ELSIF TG_OP = ''DELETE'' THEN\n    %I := %I.capture_started_at();\n    %s\n    %s;\n    %s\n'
    || E'  ELSIF TG_OP = ''TRUNCATE'' THEN\n    %s\n  END IF;\n  RETURN NULL;\nEND\n',
    -- The header comment shows the table's name with control characters replaced: a newline in a
    -- name would end the comment and run the rest of the name as code of this SECURITY DEFINER
    -- function (a table named E'x\nBEGIN ...' injected PL/pgSQL that ran as the owner).
    regexp_replace(label, '[[:cntrl:]]', '?', 'g'), mode, a_at, a_co, a_cn, a_g, a_d,
    a_at, storage, count_sql, one_cond,
    CASE WHEN needs_utc THEN guards[3] ELSE '' END, upd_pairs[1], CASE WHEN needs_utc THEN guards[4] ELSE '' END,
    guards[1], multi_sql, guards[2],
    a_at, storage, guards[3], ins_sql, guards[4],
    a_at, storage, guards[3], del_sql, guards[4],
    trunc_sql);
  -- The body's own checksum on its last line: health reports a function edited by hand
  -- (capture_function_altered) from pg_proc.prosrc alone (health/catalog.ts, BODY_MARKER).
  body := body || '-- threadline:body-md5 ' || md5(body) || E'\n';
  fn_sql := format(E'CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER\n'
    || E'SET search_path = pg_catalog, pg_temp\nAS %L', storage, fn_name, body);

  FOR r IN
    SELECT t.relid, format('%I.%I', ns.nspname, cl.relname) AS name
      FROM (SELECT rel AS relid, 0 AS level WHERE rel_kind = 'r'
            UNION ALL
            SELECT pt.relid, pt.level FROM pg_partition_tree(rel) pt WHERE rel_kind = 'p') t
      JOIN pg_class cl ON cl.oid = t.relid JOIN pg_namespace ns ON ns.oid = cl.relnamespace
     WHERE cl.relkind IN ('r', 'p')
     ORDER BY t.level, cl.relname
  LOOP
    relations := relations || to_jsonb(r.name);
  END LOOP;

  RETURN jsonb_build_object(
    'relid', rel, 'tableId', tid, 'schema', p_schema, 'name', p_name, 'mode', mode, 'functionName', fn_name,
    'functionSql', fn_sql, 'relations', relations, 'keyColumns', chk -> 'keyColumns', 'keySource', chk -> 'keySource',
    'columns', chk -> 'colmap', 'warnings', chk -> 'warnings', 'options', chk -> 'options');
END
$fn$;
`;

/** Every function of the capture generator, in creation order. */
export const CAPTURE_GENERATOR = [CAPTURE_CHECKS, CAPTURE_EXPRESSIONS, CAPTURE_PLAN, CAPTURE_INSTALL].join(
  '\n',
);
