/**
 * Functions the query API uses. `@S` is the quoted storage schema, `@LIT` its name as a literal.
 */
export const QUERY_FUNCTIONS = String.raw`
-- The table ids a name stands for in queries (history, asOf, timeline, export, revert, continuity):
-- the captured table that has this name now, with everything recorded under its former names
-- (a rename or a move to another schema keeps the id); and tables captured under this name that
-- are no longer captured (dropped, or capture removed). A table that has since been renamed away
-- from this name is included only when no captured table has the name now: a new table created
-- under an old name starts its own history. Empty when the name was never captured. Queries take
-- every change of the table that has the name now and, of the other ids, only the changes
-- recorded under this name (query/table-scope.ts), so dropping a table renamed away from the
-- name changes nothing the name answers.
CREATE OR REPLACE FUNCTION @S.table_ids(p_schema text, p_name text) RETURNS integer[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT coalesce(array_agg(DISTINCT n.table_id), '{}'::integer[])
    FROM @S.audit_table_names n
   WHERE n.table_schema = p_schema AND n.table_name = p_name
     AND (NOT EXISTS (SELECT 1 FROM @S.captured_tables ct WHERE ct.table_schema = p_schema AND ct.table_name = p_name)
          OR NOT EXISTS (SELECT 1 FROM @S.captured_tables ct WHERE ct.table_id = n.table_id)
          OR EXISTS (SELECT 1 FROM @S.captured_tables ct WHERE ct.table_id = n.table_id AND ct.table_schema = p_schema AND ct.table_name = p_name))
$fn$;

-- The canonical table_pk for a row of an audited table, as the capture trigger stores it:
-- p_key is a scalar (single-column keys) or an object naming every key column; each value is
-- converted with the key column's type (an integer key given as the string "42" matches 42).
-- A value must be exactly a value of the column's type: one that the type's length, precision
-- or scale would cut or round (abcdefgh for varchar(3), 1.009 for numeric(5,2), …00.6 for
-- timestamp(0)) would name another row, so it is refused.
-- Raises TLQ01 for a wrong, missing or extra key column or a value of the wrong type, TLNF1
-- when the table is not audited.
-- The key is rendered with the output settings capture fixes (capture-generator.ts, the plan
-- guard), not the reader's: a reader whose session has another IntervalStyle, DateStyle,
-- bytea_output, extra_float_digits or lc_monetary finds the same rows. Values are read as a
-- default session reads them (DateStyle ISO, MDY).
CREATE OR REPLACE FUNCTION @S.row_key(p_schema text, p_name text, p_key jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET IntervalStyle = 'postgres'
  SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET bytea_output = 'hex' SET lc_monetary = 'C' AS $fn$
DECLARE
  storage text := @LIT;
  label text := format('%I.%I', p_schema, p_name);
  key_cols text[];
  rel oid;
  rel_base oid;
  sample jsonb;
  given jsonb;
  out jsonb := '{}'::jsonb;
  c text;
  v jsonb;
  typ text;
  typ_oid oid;
  base text;
  exact boolean;
  converted jsonb;
  extra text;
BEGIN
  SELECT ct.key_columns, ct.relid INTO key_cols, rel FROM @S.captured_tables ct WHERE ct.table_schema = p_schema AND ct.table_name = p_name;
  SELECT ch.table_pk INTO sample FROM @S.audit_changes ch
   WHERE ch.table_id = ANY(@S.table_ids(p_schema, p_name)) AND ch.table_pk <> '{}'::jsonb LIMIT 1;
  IF sample IS NULL THEN
    SELECT ch.table_pk INTO sample FROM @S.audit_changes ch
     WHERE ch.table_id IS NULL AND ch.table_schema = p_schema AND ch.table_name = p_name AND ch.table_pk <> '{}'::jsonb LIMIT 1;
  END IF;
  IF key_cols IS NULL OR cardinality(key_cols) = 0 THEN
    SELECT array_agg(k ORDER BY k) INTO key_cols FROM jsonb_object_keys(sample) k;
  END IF;
  IF key_cols IS NULL OR cardinality(key_cols) = 0 THEN
    RAISE EXCEPTION USING ERRCODE = 'TLNF1', MESSAGE = format('%s is not audited: it has no capture and no audit rows', label),
      HINT = 'Check the table name (case-sensitive, schema.name outside public), or install capture with threadline gen-triggers.';
  END IF;
  IF p_key IS NULL OR jsonb_typeof(p_key) = 'null' THEN
    RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('a key for %s is required', label);
  END IF;
  IF jsonb_typeof(p_key) = 'object' THEN
    given := p_key;
  ELSIF cardinality(key_cols) = 1 THEN
    given := jsonb_build_object(key_cols[1], p_key);
  ELSE
    RAISE EXCEPTION USING ERRCODE = 'TLQ01',
      MESSAGE = format('%s has a composite key; give an object naming every key column: %s', label,
                       (SELECT jsonb_object_agg(k, '…'::text) FROM unnest(key_cols) k)::text);
  END IF;
  SELECT string_agg(k, ', ') INTO extra FROM jsonb_object_keys(given) k WHERE NOT k = ANY(key_cols);
  IF extra IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('%s has no key column(s) %s; its key columns are %s', label, extra, array_to_string(key_cols, ', '));
  END IF;
  SELECT string_agg(k, ', ') INTO extra FROM unnest(key_cols) k WHERE NOT given ? k;
  IF extra IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('the key for %s is missing column(s) %s', label, extra);
  END IF;
  IF rel IS NULL THEN
    SELECT cl.oid INTO rel FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE ns.nspname = p_schema AND cl.relname = p_name;
  END IF;
  FOREACH c IN ARRAY key_cols LOOP
    v := given -> c;
    IF jsonb_typeof(v) IN ('object', 'array', 'null') THEN
      RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('key column %s of %s needs a scalar value', c, label);
    END IF;
    typ := NULL;
    IF rel IS NOT NULL THEN
      SELECT format_type(a.atttypid, a.atttypmod), a.atttypid INTO typ, typ_oid
        FROM pg_attribute a WHERE a.attrelid = rel AND a.attname = c AND NOT a.attisdropped;
    END IF;
    IF typ IS NOT NULL THEN
      -- The same type without its length, precision or scale (domains resolved to their base).
      LOOP
        SELECT t.typbasetype INTO rel_base FROM pg_type t WHERE t.oid = typ_oid AND t.typtype = 'd';
        EXIT WHEN NOT FOUND;
        typ_oid := rel_base;
      END LOOP;
      base := format_type(typ_oid, -1);
      BEGIN
        EXECUTE format('SELECT to_jsonb(%L::%s), %L::%s IS NOT DISTINCT FROM %L::%s', v #>> '{}', typ, v #>> '{}', typ, v #>> '{}', base)
          INTO converted, exact;
      EXCEPTION WHEN others THEN
        RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('key column %s of %s is %s, and %s is not a valid %s', c, label, typ, v::text, typ);
      END;
      IF NOT exact THEN
        RAISE EXCEPTION USING ERRCODE = 'TLQ01',
          MESSAGE = format('key column %s of %s is %s, and %s is not exactly a value of it (it would be cut or rounded to %s, another row''s key)', c, label, typ, v::text, converted::text),
          HINT = 'Give the key exactly as it is stored.';
      END IF;
    ELSIF jsonb_typeof(sample -> c) = 'number' AND jsonb_typeof(v) = 'string' AND (v #>> '{}') ~ '^-?[0-9]+([.][0-9]+)?$' THEN
      converted := to_jsonb((v #>> '{}')::numeric);
    ELSE
      converted := v;
    END IF;
    out := out || jsonb_build_object(c, converted);
  END LOOP;
  RETURN out;
END
$fn$;

-- Whether the row with key p_key of the partitioned table p_schema.p_name lies in the partition
-- named by a partition TRUNCATE (audit_changes.data_before ->> 'partition', "schema"."name"):
-- the partition's constraint is evaluated on the key (a partitioned table's key always holds
-- its partition columns). When that partition is no longer one of the table's (dropped,
-- detached or renamed since), false when the key lies in another of the table's current leaf
-- partitions, else NULL: it cannot be told.
CREATE OR REPLACE FUNCTION @S.key_in_partition(p_schema text, p_name text, p_partition text, p_key jsonb) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  parent oid;
  part oid;
  qual text;
  hit boolean;
  cols text;
BEGIN
  SELECT cl.oid INTO parent FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace
   WHERE ns.nspname = p_schema AND cl.relname = p_name AND cl.relkind = 'p';
  IF parent IS NULL THEN
    RETURN NULL;
  END IF;
  -- The key read as a record of the table's columns, each a domain's base type: a record of the
  -- table type reads the columns p_key lacks as NULL, which a NOT NULL domain refuses.
  SELECT string_agg(format('%I %s', a.attname, CASE WHEN ty.typtype = 'd' THEN format_type(ty.typbasetype, ty.typtypmod)
                                                    ELSE format_type(a.atttypid, a.atttypmod) END), ', ' ORDER BY a.attnum)
    INTO cols FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
   WHERE a.attrelid = parent AND a.attnum > 0 AND NOT a.attisdropped;
  part := to_regclass(p_partition);
  IF part IS NOT NULL AND part <> parent AND EXISTS (SELECT 1 FROM pg_partition_tree(parent) t WHERE t.relid = part) THEN
    qual := pg_get_partition_constraintdef(part);
    IF qual IS NULL THEN
      RETURN true;
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM jsonb_to_record($1) AS r(%s) WHERE %s)', cols, qual)
      INTO hit USING p_key;
    RETURN hit;
  END IF;
  FOR part IN SELECT t.relid FROM pg_partition_tree(parent) t WHERE t.isleaf AND t.relid <> parent LOOP
    qual := pg_get_partition_constraintdef(part);
    CONTINUE WHEN qual IS NULL;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM jsonb_to_record($1) AS r(%s) WHERE %s)', cols, qual)
      INTO hit USING p_key;
    IF hit THEN
      RETURN CASE WHEN part::regclass::text = p_partition THEN NULL ELSE false END;
    END IF;
  END LOOP;
  RETURN NULL;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$fn$;
`;
