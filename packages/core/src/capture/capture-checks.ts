/**
 * Validation half of the capture generator: options, the relation and its key. `@S` is the quoted
 * storage schema, `@LIT` its name as a string literal. Everything here only reads the catalog and
 * raises (SQLSTATE TLCF1 bad option, TLNF1 missing table, TLRF1 table that cannot be captured)
 * with a message that names the fix.
 */
export const CAPTURE_CHECKS = String.raw`
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

-- Validate a table and its Threadline options for capture; raises with an actionable message when
-- the table cannot be captured. Changes nothing. Returns what the statement builder needs.
CREATE OR REPLACE FUNCTION @S.capture_check(p_schema text, p_name text, p_options jsonb, p_allow_keyless boolean)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  label text := format('%I.%I', p_schema, p_name);
  rel oid;
  rel_kind "char";
  persistence "char";
  is_partition boolean;
  parent_name text;
  inherited text;
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
  warnings text[] := '{}';
  c text;
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
  SELECT cl.oid, cl.relkind, cl.relispartition, cl.relpersistence INTO rel, rel_kind, is_partition, persistence
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
  IF persistence = 't' THEN
    PERFORM @S.capture_refuse('TLRF1', format('%s is a temporary table; it disappears with its session, so its capture would be left behind', label),
      'Audit a permanent (or unlogged) table instead.');
  END IF;
  IF is_partition THEN
    SELECT format('%I.%I', pns.nspname, pc.relname) INTO parent_name
      FROM pg_class pc JOIN pg_namespace pns ON pns.oid = pc.relnamespace
     WHERE pc.oid = pg_partition_root(rel);
    PERFORM @S.capture_refuse('TLRF1', format('%s is a partition of %s', label, parent_name),
      format('Capture the partitioned table %s instead: it covers every partition, including ones attached later.', parent_name));
  END IF;
  -- Table inheritance (not partitioning): the DDL sync refuses INHERITS on an audited table
  -- (ddl-sync.ts); a tree that existed first is refused here, for the same reason.
  SELECT format('%s inherits from %s', i.inhrelid::regclass, i.inhparent::regclass) INTO inherited
    FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
   WHERE (i.inhrelid = rel OR i.inhparent = rel) AND p.relkind <> 'p' LIMIT 1;
  IF inherited IS NOT NULL THEN
    PERFORM @S.capture_refuse('TLRF1', format('%s is in a table inheritance tree (%s): writes through the parent would be captured without the child''s columns or not at all', label, inherited),
      'Use declarative partitioning, or remove the inheritance (ALTER TABLE child NO INHERIT parent), then audit the table.');
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


  IF rel_kind = 'p' THEN
    warnings := warnings || format('%s is partitioned: PostgreSQL''s transition tables do not report a MERGE whose UPDATE moves a row to another partition (the move is lost or recorded as a delete); '
      'make such moves with UPDATE, not MERGE (see docs/capture.md, Limits)', label);
  END IF;

  RETURN jsonb_build_object(
    'relid', rel, 'relkind', rel_kind, 'columns', to_jsonb(cols), 'types', to_jsonb(col_types), 'colmap', colmap,
    'keyColumns', to_jsonb(key_cols), 'keySource', key_source, 'warnings', to_jsonb(warnings),
    'options', jsonb_build_object('exclude', to_jsonb(o_exclude), 'mask', to_jsonb(o_mask), 'maskPlaceholder', placeholder,
                                  'exceptColumns', to_jsonb(o_except), 'primaryKey', to_jsonb(o_pk),
                                  'changedFrom', with_changed_from, 'deleteSnapshot', with_delete_snapshot));
END
$fn$;
`;
