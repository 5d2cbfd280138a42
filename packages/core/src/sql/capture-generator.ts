/**
 * The capture generator lives in the database so that the DDL event trigger can regenerate a
 * table's capture function inside the same transaction as an ALTER TABLE (no stale function, no
 * capture gap). `@S` is the quoted storage schema, `@LIT` its name as a string literal.
 *
 * Design (see docs/capture.md for the why):
 * - one generated plpgsql function per audited table, called by four statement-level triggers
 *   (INSERT/UPDATE/DELETE with transition tables, TRUNCATE) on the table and on every partition;
 * - each call runs one INSERT ... SELECT over the transition tables; UPDATE pairs old and new rows
 *   by their position in the transition tables (PostgreSQL appends both in lockstep), so an UPDATE
 *   that changes the key is paired correctly, even a key shift like `SET id = id + 1`;
 * - the audit transaction id comes from a lazily evaluated initplan, so statements that change
 *   nothing write nothing;
 * - `compiled` mode reads columns natively (fastest) and relies on the DDL event trigger to
 *   regenerate after ALTER TABLE; `portable` mode (no event trigger available) reads every value
 *   through to_jsonb(row) so no ALTER can make it fail, and hides rows whose redacted columns it
 *   can no longer find rather than leak them;
 * - SET jit/enable_nestloop/enable_mergejoin pin one plan shape (hash join) whatever row count
 *   the cached plan was made for; TimeZone=UTC makes captured timestamps and keys stable.
 */
export const CAPTURE_GENERATOR = String.raw`
CREATE OR REPLACE FUNCTION @S.capture_refuse(p_code text, p_message text, p_hint text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  IF p_hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message;
  END IF;
  RAISE EXCEPTION USING ERRCODE = p_code, MESSAGE = p_message, HINT = p_hint;
END
$fn$;

-- Column list option -> text[] (validated).
CREATE OR REPLACE FUNCTION @S.capture_option_list(p_options jsonb, p_key text, p_table text) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  v jsonb := p_options -> p_key;
  out text[] := '{}';
  e jsonb;
BEGIN
  IF v IS NULL OR v = 'null'::jsonb THEN RETURN out; END IF;
  IF jsonb_typeof(v) <> 'array' THEN
    PERFORM @S.capture_refuse('TLCF1', format('%s: %s must be an array of column names', p_table, p_key));
  END IF;
  FOR e IN SELECT * FROM jsonb_array_elements(v) LOOP
    IF jsonb_typeof(e) <> 'string' OR e #>> '{}' = '' THEN
      PERFORM @S.capture_refuse('TLCF1', format('%s: %s must contain only non-empty column names', p_table, p_key));
    END IF;
    IF NOT (e #>> '{}') = ANY(out) THEN out := out || (e #>> '{}'); END IF;
  END LOOP;
  RETURN out;
END
$fn$;

-- True when a type can be compared with IS DISTINCT FROM using pg_catalog operators only.
CREATE OR REPLACE FUNCTION @S.capture_native_comparable(p_type oid) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  WITH RECURSIVE base(oid, depth) AS (
    SELECT p_type, 0
    UNION ALL
    SELECT t.typbasetype, b.depth + 1 FROM pg_type t JOIN base b ON t.oid = b.oid WHERE t.typtype = 'd' AND b.depth < 10
  ), resolved AS (
    SELECT t.* FROM base b JOIN pg_type t ON t.oid = b.oid WHERE t.typtype <> 'd' ORDER BY b.depth DESC LIMIT 1
  )
  SELECT coalesce((
    SELECT r.typtype = 'e'
        OR (r.typnamespace = 'pg_catalog'::regnamespace AND r.typname IN (
              'int2', 'int4', 'int8', 'text', 'varchar', 'bpchar', 'bool', 'uuid', 'numeric', 'float4', 'float8',
              'date', 'timestamp', 'timestamptz', 'time', 'timetz', 'interval', 'jsonb', 'bytea', 'oid', 'name',
              'char', 'inet', 'cidr', 'macaddr', 'macaddr8', 'money', 'bit', 'varbit',
              '_int2', '_int4', '_int8', '_text', '_varchar', '_bool', '_uuid', '_numeric', '_float4', '_float8',
              '_date', '_timestamp', '_timestamptz', '_jsonb'))
    FROM resolved r), false)
$fn$;

-- Work out everything needed to capture one table; raises with an actionable message when the
-- table cannot be captured. Changes nothing. p_mode: NULL (auto), 'compiled' or 'portable'.
CREATE OR REPLACE FUNCTION @S.capture_plan(p_schema text, p_name text, p_options jsonb DEFAULT '{}'::jsonb,
                                           p_mode text DEFAULT NULL, p_allow_keyless boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  label text := format('%I.%I', p_schema, p_name);
  rel oid;
  rel_kind "char";
  is_partition boolean;
  parent_name text;
  opts jsonb := coalesce(p_options, '{}'::jsonb);
  o_exclude text[];
  o_mask text[];
  o_except text[];
  o_pk text[];
  placeholder text;
  with_changed_from boolean;
  with_delete_snapshot boolean;
  cols text[];
  col_types oid[];
  colmap jsonb;
  unknown text[];
  key_cols text[];
  key_source text;
  candidates text;
  mode text;
  fn_name text;
  rn_a text := 'threadline_rn';
  j_a text := 'threadline_row';
  diff_cols text[];
  c text;
  i integer;
  t oid;
  key_new text;
  key_old text;
  key_changed text;
  data_new text;
  data_old text;
  guard text[];
  mask_obj jsonb;
  stale_obj text;
  flags text[] := '{}';
  inner_cols text[] := '{}';
  fields_expr text;
  from_expr text;
  where_expr text;
  new_src text;
  old_src text;
  ins_sql text;
  upd_sql text;
  del_sql text;
  trunc_sql text;
  body text;
  fn_sql text;
  relations jsonb := '[]'::jsonb;
  r record;
BEGIN
  IF jsonb_typeof(opts) <> 'object' THEN
    PERFORM @S.capture_refuse('TLCF1', format('%s: options must be a JSON object', label));
  END IF;
  SELECT string_agg(k, ', ') INTO c FROM jsonb_object_keys(opts) k
   WHERE k NOT IN ('exclude', 'mask', 'maskPlaceholder', 'exceptColumns', 'primaryKey', 'changedFrom', 'deleteSnapshot');
  IF c IS NOT NULL THEN
    PERFORM @S.capture_refuse('TLCF1', format('%s: unknown option(s) %s', label, c),
      'Known options: exclude, mask, maskPlaceholder, exceptColumns, primaryKey, changedFrom, deleteSnapshot.');
  END IF;
  o_exclude := @S.capture_option_list(opts, 'exclude', label);
  o_mask := @S.capture_option_list(opts, 'mask', label);
  o_except := @S.capture_option_list(opts, 'exceptColumns', label);
  o_pk := CASE WHEN opts ? 'primaryKey' AND opts -> 'primaryKey' <> 'null'::jsonb
               THEN @S.capture_option_list(opts, 'primaryKey', label) END;
  IF o_pk IS NOT NULL AND cardinality(o_pk) = 0 THEN
    PERFORM @S.capture_refuse('TLCF1', format('%s: primaryKey must name at least one column', label));
  END IF;
  placeholder := coalesce(opts ->> 'maskPlaceholder', '[REDACTED]');
  IF opts ? 'maskPlaceholder' AND (jsonb_typeof(opts -> 'maskPlaceholder') <> 'string' OR placeholder = ''
      OR char_length(placeholder) > 200 OR placeholder ~ '[[:cntrl:]]') THEN
    PERFORM @S.capture_refuse('TLCF1', format('%s: maskPlaceholder must be 1 to 200 characters without control characters', label));
  END IF;
  FOREACH c IN ARRAY ARRAY['changedFrom', 'deleteSnapshot'] LOOP
    IF opts ? c AND jsonb_typeof(opts -> c) <> 'boolean' THEN
      PERFORM @S.capture_refuse('TLCF1', format('%s: %s must be true or false', label, c));
    END IF;
  END LOOP;
  with_changed_from := coalesce((opts ->> 'changedFrom')::boolean, true);
  with_delete_snapshot := coalesce((opts ->> 'deleteSnapshot')::boolean, true);
  SELECT array_agg(x) INTO unknown FROM unnest(o_exclude) x WHERE x = ANY(o_mask);
  IF unknown IS NOT NULL THEN
    PERFORM @S.capture_refuse('TLCF1', format('%s: column(s) %s are in both exclude and mask', label, array_to_string(unknown, ', ')),
      'A column is either removed (exclude) or hidden (mask), not both.');
  END IF;

  -- The relation.
  SELECT cl.oid, cl.relkind, cl.relispartition INTO rel, rel_kind, is_partition
    FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
   WHERE ns.nspname = p_schema AND cl.relname = p_name;
  IF rel IS NULL THEN
    PERFORM @S.capture_refuse('TLNF1', format('table %s does not exist', label),
      'Check the name and schema (names are case-sensitive; write schema.name for tables outside public).');
  END IF;
  IF p_schema = storage THEN
    PERFORM @S.capture_refuse('TLRF1', format('%s is one of Threadline''s own tables and cannot be audited', label),
      'Capturing the audit tables would record every audit row again.');
  END IF;
  IF rel_kind IN ('v', 'm') THEN
    PERFORM @S.capture_refuse('TLRF1', format('%s is a view; views have no rows of their own to capture', label),
      'Capture the tables the view reads from instead.');
  END IF;
  IF rel_kind NOT IN ('r', 'p') THEN
    PERFORM @S.capture_refuse('TLRF1', format('%s is not an ordinary or partitioned table (relkind %s)', label, rel_kind));
  END IF;
  IF is_partition THEN
    SELECT format('%I.%I', pns.nspname, pc.relname) INTO parent_name
      FROM pg_class pc JOIN pg_namespace pns ON pns.oid = pc.relnamespace
     WHERE pc.oid = pg_partition_root(rel);
    PERFORM @S.capture_refuse('TLRF1', format('%s is a partition of %s', label, parent_name),
      format('Capture the partitioned table %s instead: it covers every partition, including ones attached later.', parent_name));
  END IF;

  SELECT array_agg(a.attname::text ORDER BY a.attnum), array_agg(a.atttypid ORDER BY a.attnum),
         jsonb_object_agg(a.attnum::text, a.attname::text)
    INTO cols, col_types, colmap
    FROM pg_attribute a WHERE a.attrelid = rel AND a.attnum > 0 AND NOT a.attisdropped;
  cols := coalesce(cols, '{}');
  SELECT array_agg(x) INTO unknown FROM unnest(o_exclude || o_mask || o_except || coalesce(o_pk, '{}')) x WHERE NOT x = ANY(cols);
  IF unknown IS NOT NULL THEN
    PERFORM @S.capture_refuse('TLRF1', format('%s has no column(s) %s named in its Threadline options', label, array_to_string(unknown, ', ')),
      format('Columns of %s: %s. Names are case-sensitive.', label, array_to_string(cols, ', ')));
  END IF;

  -- The key.
  SELECT array_agg(a.attname::text ORDER BY g.n) INTO key_cols
    FROM pg_index ix
    CROSS JOIN LATERAL generate_series(0, ix.indnkeyatts - 1) AS g(n)
    JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[g.n]
   WHERE ix.indrelid = rel AND ix.indisprimary;
  key_source := 'primary key';
  IF o_pk IS NOT NULL THEN
    IF NOT EXISTS (
      SELECT 1 FROM pg_index ix
       WHERE ix.indrelid = rel AND ix.indisunique AND ix.indisvalid AND ix.indisready AND ix.indimmediate
         AND ix.indpred IS NULL AND ix.indexprs IS NULL AND ix.indnkeyatts = cardinality(o_pk)
         AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM generate_series(0, ix.indnkeyatts - 1) g(n)
                JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[g.n] AND a.attnotnull)
             = (SELECT array_agg(x ORDER BY x) FROM unnest(o_pk) x)
    ) THEN
      SELECT string_agg(format('%s (%s%s)', ix.indexrelid::regclass,
               (SELECT string_agg(a.attname, ', ') FROM generate_series(0, ix.indnkeyatts - 1) g(n)
                  JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[g.n]),
               CASE WHEN ix.indpred IS NOT NULL THEN '; partial' ELSE '' END
               || CASE WHEN ix.indexprs IS NOT NULL THEN '; expression' ELSE '' END
               || CASE WHEN NOT ix.indimmediate THEN '; deferrable' ELSE '' END
               || CASE WHEN NOT ix.indisvalid THEN '; invalid' ELSE '' END
               || CASE WHEN EXISTS (SELECT 1 FROM generate_series(0, ix.indnkeyatts - 1) g(n)
                          JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[g.n] AND NOT a.attnotnull)
                       THEN '; nullable column' ELSE '' END), ', ')
        INTO candidates FROM pg_index ix WHERE ix.indrelid = rel AND ix.indisunique;
      PERFORM @S.capture_refuse('TLRF1',
        format('%s: no unique index matches primaryKey [%s]', label, array_to_string(o_pk, ', ')),
        format('primaryKey must name exactly the columns of a unique, valid, non-partial, non-expression, non-deferrable index whose columns are NOT NULL. Unique indexes on %s: %s.',
               label, coalesce(candidates, 'none')));
    END IF;
    key_cols := o_pk;
    key_source := 'primaryKey option';
  END IF;
  IF key_cols IS NULL AND NOT p_allow_keyless THEN
    SELECT string_agg(format('[%s]', (SELECT string_agg(format('"%s"', a.attname), ', ') FROM generate_series(0, ix.indnkeyatts - 1) g(n)
                  JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[g.n])), ' or ')
      INTO candidates
      FROM pg_index ix
     WHERE ix.indrelid = rel AND ix.indisunique AND ix.indisvalid AND ix.indimmediate AND ix.indpred IS NULL AND ix.indexprs IS NULL
       AND NOT EXISTS (SELECT 1 FROM generate_series(0, ix.indnkeyatts - 1) g(n)
                         JOIN pg_attribute a ON a.attrelid = ix.indrelid AND a.attnum = ix.indkey[g.n] AND NOT a.attnotnull);
    PERFORM @S.capture_refuse('TLRF1',
      format('%s has no primary key, so its audit rows could not be told apart', label),
      CASE WHEN candidates IS NULL
        THEN 'Add a primary key to the table, or add a unique index on NOT NULL columns and name them with primaryKey in its Threadline options.'
        ELSE format('Set primaryKey: %s for this table in its Threadline options (a qualifying unique index backs it), or add a primary key.', candidates)
      END);
  END IF;
  key_cols := coalesce(key_cols, '{}');
  SELECT array_agg(x) INTO unknown FROM unnest(key_cols) x WHERE x = ANY(o_exclude) OR x = ANY(o_mask);
  IF unknown IS NOT NULL THEN
    PERFORM @S.capture_refuse('TLRF1', format('%s: key column(s) %s cannot be excluded or masked', label, array_to_string(unknown, ', ')),
      'Audit rows are found by their key; remove these columns from exclude/mask.');
  END IF;

  -- Mode: compiled needs the DDL event trigger so that ALTER TABLE regenerates in place.
  mode := coalesce(p_mode, CASE WHEN EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'threadline_sync_' || md5(storage) AND evtenabled = 'A')
                                THEN 'compiled' ELSE 'portable' END);

  fn_name := 'capture_' || left(regexp_replace(p_schema || '_' || p_name, '[^A-Za-z0-9_]+', '_', 'g'), 40)
             || '_' || left(encode(sha256(convert_to(label, 'UTF8')), 'hex'), 12);
  WHILE rn_a = ANY(cols) LOOP rn_a := rn_a || '_'; END LOOP;
  WHILE j_a = ANY(cols) LOOP j_a := j_a || '_'; END LOOP;

  -- Expressions.
  IF mode = 'compiled' THEN
    key_new := (SELECT 'jsonb_build_object(' || string_agg(format('%L, n.%I', k, k), ', ') || ')' FROM unnest(key_cols) k);
    key_old := (SELECT 'jsonb_build_object(' || string_agg(format('%L, o.%I', k, k), ', ') || ')' FROM unnest(key_cols) k);
    key_changed := (SELECT string_agg(format('n.%I IS DISTINCT FROM o.%I', k, k), ' OR ') FROM unnest(key_cols) k);
  ELSE
    key_new := (SELECT 'jsonb_build_object(' || string_agg(format('%L, n.%I -> %L', k, j_a, k), ', ') || ')' FROM unnest(key_cols) k);
    key_old := (SELECT 'jsonb_build_object(' || string_agg(format('%L, o.%I -> %L', k, j_a, k), ', ') || ')' FROM unnest(key_cols) k);
    key_changed := (SELECT string_agg(format('(n.%I -> %L) IS DISTINCT FROM (o.%I -> %L)', j_a, k, j_a, k), ' OR ') FROM unnest(key_cols) k);
  END IF;
  key_new := coalesce(key_new, '''{}''::jsonb');
  key_old := coalesce(key_old, '''{}''::jsonb');
  key_changed := coalesce(key_changed, 'false');

  SELECT jsonb_object_agg(m, placeholder) INTO mask_obj FROM unnest(o_mask) m;
  guard := o_exclude || o_mask || CASE WHEN mode = 'portable' THEN key_cols ELSE '{}'::text[] END;
  data_new := format('n.%I', j_a);
  data_old := format('o.%I', j_a);
  stale_obj := format('%L::jsonb', jsonb_build_object('threadline', 'hidden: the table changed shape since capture was generated; run threadline gen-triggers')::text);

  -- Diffed columns: not excluded, not in exceptColumns; sorted so changed_fields is sorted.
  SELECT array_agg(x ORDER BY x COLLATE "C") INTO diff_cols FROM unnest(cols) x WHERE NOT x = ANY(o_exclude || o_except);
  diff_cols := coalesce(diff_cols, '{}');
  IF mode = 'compiled' THEN
    -- One boolean per diffed column, computed once per row (the OFFSET 0 subquery), natively.
    i := 0;
    FOREACH c IN ARRAY diff_cols LOOP
      i := i + 1;
      t := col_types[array_position(cols, c)];
      inner_cols := inner_cols || CASE WHEN @S.capture_native_comparable(t)
        THEN format('n.%I IS DISTINCT FROM o.%I AS c_%s', c, c, i)
        ELSE format('n.%I::text IS DISTINCT FROM o.%I::text AS c_%s', c, c, i) END;
      IF with_changed_from AND NOT c = ANY(o_mask) THEN inner_cols := inner_cols || format('o.%I AS o_%s', c, i); END IF;
      flags := flags || format('x.c_%s', i);
    END LOOP;
    fields_expr := CASE WHEN i = 0 THEN 'NULL::text[]' ELSE
      'array_remove(ARRAY[' || (SELECT string_agg(format('CASE WHEN x.c_%s THEN %L END', n, diff_cols[n]), ', ') FROM generate_series(1, i) n) || ']::text[], NULL)' END;
    from_expr := CASE WHEN NOT with_changed_from OR i = 0 THEN 'NULL::jsonb' ELSE
      '(' || (SELECT string_agg(format('CASE WHEN x.c_%s THEN %s ELSE ''{}''::jsonb END', n,
          CASE WHEN diff_cols[n] = ANY(o_mask) THEN format('%L::jsonb', jsonb_build_object(diff_cols[n], placeholder)::text)
               ELSE format('jsonb_build_object(%L, x.o_%s)', diff_cols[n], n) END), ' || ') FROM generate_series(1, i) n) || ')' END;
    where_expr := array_to_string(ARRAY['x.k_changed'] || flags, ' OR ');
  ELSE
    -- Portable: compare whole row images key by key, so columns added or renamed since
    -- generation are still detected; values of a row that fails the redaction guard are hidden.
    inner_cols := ARRAY[
      format('o.%I AS oj', j_a),
      format('(SELECT array_agg(k ORDER BY k COLLATE "C") FROM jsonb_object_keys(n.%I || o.%I) AS k '
             'WHERE (n.%I -> k) IS DISTINCT FROM (o.%I -> k) AND NOT k = ANY(%L::text[])) AS fields',
             j_a, j_a, j_a, j_a, o_exclude || o_except)];
    fields_expr := 'x.fields';
    from_expr := CASE WHEN NOT with_changed_from THEN 'NULL::jsonb' ELSE
      format('(SELECT jsonb_object_agg(k, CASE WHEN k = ANY(%L::text[]) THEN to_jsonb(%L::text) ELSE x.oj -> k END) FROM unnest(x.fields) AS k)',
             o_mask, placeholder) END;
    IF with_changed_from AND cardinality(guard) > 0 THEN
      from_expr := format('(CASE WHEN x.j ?& %L::text[] THEN %s ELSE %s END)', guard, from_expr, stale_obj);
    END IF;
    where_expr := 'x.k_changed OR cardinality(x.fields) > 0';
  END IF;

  -- OFFSET 0 keeps the row image computed once per row (a flattened subquery would repeat it).
  new_src := format('(SELECT to_jsonb(r) AS %I%s FROM threadline_new_rows AS r OFFSET 0) AS n', j_a,
                    CASE WHEN mode = 'compiled' THEN ', r.*' ELSE '' END);
  old_src := format('(SELECT to_jsonb(r) AS %I%s FROM threadline_old_rows AS r OFFSET 0) AS o', j_a,
                    CASE WHEN mode = 'compiled' THEN ', r.*' ELSE '' END);

  ins_sql := format(
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, op, table_pk, data_after, captured_at) '
    'SELECT (SELECT %I.current_transaction_id()), %L, %L, ''insert'', %s, %s, (SELECT clock_timestamp()) FROM %s',
    storage, storage, p_schema, p_name, key_new, @S.capture_redact(data_new, o_exclude, mask_obj, guard, stale_obj), new_src);
  del_sql := format(
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, op, table_pk, data_before, captured_at) '
    'SELECT (SELECT %I.current_transaction_id()), %L, %L, ''delete'', %s, %s, (SELECT clock_timestamp()) FROM %s',
    storage, storage, p_schema, p_name, key_old,
    CASE WHEN with_delete_snapshot THEN @S.capture_redact(data_old, o_exclude, mask_obj, guard, stale_obj) ELSE 'NULL::jsonb' END,
    old_src);
  upd_sql := format(
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, op, table_pk, table_pk_before, data_after, changed_fields, changed_from, captured_at) '
    'SELECT (SELECT %I.current_transaction_id()), %L, %L, ''update'', x.k_new, CASE WHEN x.k_changed THEN x.k_old END, %s, %s, %s, (SELECT clock_timestamp()) '
    'FROM (SELECT %s AS j, %s AS k_new, %s AS k_old, %s AS k_changed%s '
    'FROM (SELECT row_number() OVER () AS %I, to_jsonb(r) AS %I%s FROM threadline_new_rows AS r) AS n '
    'JOIN (SELECT row_number() OVER () AS %I%s FROM threadline_old_rows AS r) AS o ON o.%I = n.%I OFFSET 0) AS x '
    'WHERE %s',
    storage, storage, p_schema, p_name,
    @S.capture_redact('x.j', o_exclude, mask_obj, guard, stale_obj), fields_expr, from_expr,
    format('n.%I', j_a), key_new, key_old, key_changed,
    CASE WHEN cardinality(inner_cols) > 0 THEN ', ' || array_to_string(inner_cols, ', ') ELSE '' END,
    rn_a, j_a, CASE WHEN mode = 'compiled' THEN ', r.*' ELSE '' END,
    rn_a, CASE WHEN mode = 'compiled' THEN ', r.*' ELSE format(', to_jsonb(r) AS %I', j_a) END, rn_a, rn_a,
    where_expr);
  trunc_sql := format(
    'IF TG_TABLE_SCHEMA = %L AND TG_TABLE_NAME = %L THEN '
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, op, table_pk, captured_at) '
    'VALUES (%I.current_transaction_id(), %L, %L, ''truncate'', ''{}''::jsonb, clock_timestamp()); '
    'ELSIF NOT %I.truncate_captured(%L, %L) THEN '
    'INSERT INTO %I.audit_changes (transaction_id, table_schema, table_name, op, table_pk, data_before, captured_at) '
    'VALUES (%I.current_transaction_id(), %L, %L, ''truncate'', ''{}''::jsonb, '
    'jsonb_build_object(''partition'', format(''%%I.%%I'', TG_TABLE_SCHEMA, TG_TABLE_NAME)), clock_timestamp()); '
    'END IF;',
    p_schema, p_name, storage, storage, p_schema, p_name, storage, p_schema, p_name, storage, storage, p_schema, p_name);

  body := format(E'-- Threadline capture for %s (%s mode). Generated; regenerate with threadline gen-triggers.\n'
    || E'BEGIN\n  IF TG_OP = ''INSERT'' THEN\n    %s;\n  ELSIF TG_OP = ''UPDATE'' THEN\n    %s;\n'
    || E'  ELSIF TG_OP = ''DELETE'' THEN\n    %s;\n  ELSIF TG_OP = ''TRUNCATE'' THEN\n    %s\n  END IF;\n  RETURN NULL;\nEND\n',
    label, mode, ins_sql, upd_sql, del_sql, trunc_sql);
  fn_sql := format(E'CREATE OR REPLACE FUNCTION %I.%I() RETURNS trigger LANGUAGE plpgsql\n'
    || E'SET search_path = pg_catalog, pg_temp SET jit = off SET enable_nestloop = off SET enable_mergejoin = off\n'
    || E'SET work_mem = ''64MB'' SET TimeZone = ''UTC''\nAS %L', storage, fn_name, body);

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
    'relid', rel, 'schema', p_schema, 'name', p_name, 'mode', mode, 'functionName', fn_name,
    'functionSql', fn_sql, 'relations', relations, 'keyColumns', to_jsonb(key_cols), 'keySource', key_source,
    'columns', colmap,
    'options', jsonb_build_object('exclude', to_jsonb(o_exclude), 'mask', to_jsonb(o_mask), 'maskPlaceholder', placeholder,
                                  'exceptColumns', to_jsonb(o_except), 'primaryKey', to_jsonb(o_pk),
                                  'changedFrom', with_changed_from, 'deleteSnapshot', with_delete_snapshot));
END
$fn$;

-- Redaction applied to a row image expression. In portable mode a row that lacks a redacted or
-- key column (renamed since generation) is hidden instead of stored unredacted.
CREATE OR REPLACE FUNCTION @S.capture_redact(p_expr text, p_exclude text[], p_mask jsonb, p_guard text[], p_stale text)
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE WHEN cardinality(p_guard) = 0 THEN r ELSE format('(CASE WHEN %s ?& %L::text[] THEN %s ELSE %s END)', p_expr, p_guard, r, p_stale) END
  FROM (SELECT CASE WHEN p_mask IS NULL THEN e ELSE format('(%s || %L::jsonb)', e, p_mask::text) END AS r
          FROM (SELECT CASE WHEN cardinality(p_exclude) = 0 THEN p_expr ELSE format('(%s - %L::text[])', p_expr, p_exclude) END AS e) a) b
$fn$;

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
BEGIN
  -- The table's own lock (the one CREATE TRIGGER takes), taken before planning: no stale plan,
  -- and no database-wide lock that would make two migrations deadlock.
  IF to_regclass(format('%I.%I', p_schema, p_name)) IS NOT NULL THEN
    EXECUTE format('LOCK TABLE %I.%I IN SHARE ROW EXCLUSIVE MODE', p_schema, p_name);
  END IF;
  plan := @S.capture_plan(p_schema, p_name, p_options, p_mode, p_allow_keyless);
  rel := (plan ->> 'relid')::oid;
  SELECT function_name INTO old_fn FROM @S.captured_tables WHERE relid = rel;
  EXECUTE plan ->> 'functionSql';
  fn := format('%I.%I()', storage, plan ->> 'functionName')::regprocedure;
  FOR target IN SELECT jsonb_array_elements_text(plan -> 'relations') LOOP
    wanted := wanted || target::regclass::oid;
    PERFORM @S.capture_attach(target::regclass, fn);
  END LOOP;
  -- Triggers that still call this table's function (old or current) on relations outside the
  -- table's partition tree (a detached partition) are removed, then an unused old function.
  FOR r IN
    SELECT tg.tgname, tg.tgrelid::regclass AS relname FROM pg_trigger tg
     WHERE (tg.tgfoid = fn OR (old_fn IS NOT NULL AND tg.tgfoid = to_regprocedure(format('%I.%I()', storage, old_fn))))
       AND NOT tg.tgrelid = ANY(wanted)
  LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.tgname, r.relname);
  END LOOP;
  IF old_fn IS NOT NULL AND old_fn <> plan ->> 'functionName' THEN
    EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', storage, old_fn);
  END IF;
  INSERT INTO @S.captured_tables AS ct (relid, table_schema, table_name, options, key_columns, columns, function_name, mode, generated_at)
  VALUES (rel, p_schema, p_name, plan -> 'options', ARRAY(SELECT jsonb_array_elements_text(plan -> 'keyColumns')),
          plan -> 'columns', plan ->> 'functionName', plan ->> 'mode', now())
  ON CONFLICT (relid) DO UPDATE SET table_schema = EXCLUDED.table_schema, table_name = EXCLUDED.table_name,
    options = EXCLUDED.options, key_columns = EXCLUDED.key_columns, columns = EXCLUDED.columns,
    function_name = EXCLUDED.function_name, mode = EXCLUDED.mode, generated_at = EXCLUDED.generated_at;
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
            WHERE tg.tgfoid = to_regprocedure(format('%I.%I()', storage, reg.function_name)) LOOP
    EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s', r.tgname, r.relname);
  END LOOP;
  EXECUTE format('DROP FUNCTION IF EXISTS %I.%I()', storage, reg.function_name);
  DELETE FROM @S.captured_tables WHERE relid = reg.relid;
  PERFORM @S.internal_end(mark);
  RETURN true;
END
$fn$;
`;
