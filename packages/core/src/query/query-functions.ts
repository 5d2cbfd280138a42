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
  IF rel IS NULL THEN
    SELECT cl.oid INTO rel FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE ns.nspname = p_schema AND cl.relname = p_name;
  END IF;
  -- A single key column whose values are objects or arrays (a composite type, jsonb, an array
  -- type) may be given its value alone, as a plan's or the history's key shows it under the column.
  IF cardinality(key_cols) = 1 AND ((jsonb_typeof(p_key) = 'object' AND NOT p_key ? key_cols[1]) OR jsonb_typeof(p_key) = 'array')
     AND EXISTS (SELECT 1 FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid
                  WHERE a.attrelid = rel AND a.attname = key_cols[1] AND NOT a.attisdropped
                    AND (ty.typtype = 'c' OR ty.typcategory = 'A' OR ty.oid = 'jsonb'::regtype
                         OR (ty.typtype = 'd' AND EXISTS (SELECT 1 FROM pg_type b WHERE b.oid = ty.typbasetype AND (b.typtype = 'c' OR b.typcategory = 'A'))))) THEN
    given := jsonb_build_object(key_cols[1], p_key);
  ELSIF jsonb_typeof(p_key) = 'array' THEN
    RAISE EXCEPTION USING ERRCODE = 'TLQ01',
      MESSAGE = format('give the key for %s as a value or an object naming every key column (%s), not an array', label, array_to_string(key_cols, ', '));
  ELSIF jsonb_typeof(p_key) = 'object' THEN
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
  FOREACH c IN ARRAY key_cols LOOP
    v := given -> c;
    IF jsonb_typeof(v) = 'null' THEN
      RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('key column %s of %s needs a value, not null', c, label);
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
        IF jsonb_typeof(v) IN ('object', 'array') THEN
          -- A composite or array value as JSON (the form to_jsonb renders and a plan shows), read
          -- field by field as jsonb_populate_record does, through the column's type.
          EXECUTE format('SELECT to_jsonb(r.x), r.x IS NOT DISTINCT FROM b.x FROM jsonb_to_record($1) AS r(x %s), jsonb_to_record($1) AS b(x %s)', typ, base)
            INTO converted, exact USING jsonb_build_object('x', v);
        ELSE
          EXECUTE format('SELECT to_jsonb(%L::%s), %L::%s IS NOT DISTINCT FROM %L::%s', v #>> '{}', typ, v #>> '{}', typ, v #>> '{}', base)
            INTO converted, exact;
        END IF;
      EXCEPTION WHEN others THEN
        IF jsonb_typeof(v) IN ('object', 'array') THEN
          RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('key column %s of %s is %s, and %s is not a valid %s', c, label, typ, v::text, typ),
            HINT = 'Give the key as the plan or the history shows it: a composite value as an object of its fields or as its text, e.g. (1,"a b"); an array as an array.';
        END IF;
        RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('key column %s of %s is %s, and %s is not a valid %s', c, label, typ, v::text, typ);
      END;
      IF jsonb_typeof(v) = 'object' AND jsonb_typeof(converted) = 'object' AND (v - ARRAY(SELECT jsonb_object_keys(converted))) <> '{}'::jsonb THEN
        RAISE EXCEPTION USING ERRCODE = 'TLQ01',
          MESSAGE = format('key column %s of %s is %s, which has no field(s) %s; its fields are %s', c, label, typ,
                           (SELECT string_agg(k, ', ') FROM jsonb_object_keys(v - ARRAY(SELECT jsonb_object_keys(converted))) k),
                           (SELECT string_agg(k, ', ') FROM jsonb_object_keys(converted) k));
      END IF;
      IF NOT exact THEN
        RAISE EXCEPTION USING ERRCODE = 'TLQ01',
          MESSAGE = format('key column %s of %s is %s, and %s is not exactly a value of it (it would be cut or rounded to %s, another row''s key)', c, label, typ, v::text, converted::text),
          HINT = 'Give the key exactly as it is stored.';
      END IF;
    ELSIF jsonb_typeof(v) IN ('object', 'array') THEN
      RAISE EXCEPTION USING ERRCODE = 'TLQ01', MESSAGE = format('key column %s of %s needs a scalar value (the table is gone, so its type cannot read %s)', c, label, v::text);
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

-- A stored key (audit_changes.table_pk) read through the key columns' types the table has now and
-- rendered as capture renders them (row_key's output settings): the form row_key gives a key
-- today, so a key stored before an ALTER TYPE of a key column (int to text, numeric(10,4) to
-- numeric(10,2)) compares with it as the column's type compares them. A value the type no longer
-- reads, a column the table no longer has, or a table that is gone: that value (key) as stored.
CREATE OR REPLACE FUNCTION @S.key_now(p_schema text, p_name text, p_key jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' SET IntervalStyle = 'postgres'
  SET DateStyle = 'ISO, MDY' SET extra_float_digits = 1 SET bytea_output = 'hex' SET lc_monetary = 'C' AS $fn$
DECLARE
  rel oid;
  out jsonb := '{}'::jsonb;
  e record;
  typ text;
  v jsonb;
BEGIN
  IF p_key IS NULL OR jsonb_typeof(p_key) <> 'object' THEN
    RETURN p_key;
  END IF;
  SELECT ct.relid INTO rel FROM @S.captured_tables ct WHERE ct.table_schema = p_schema AND ct.table_name = p_name;
  IF rel IS NULL THEN
    SELECT cl.oid INTO rel FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE ns.nspname = p_schema AND cl.relname = p_name;
  END IF;
  IF rel IS NULL THEN
    RETURN p_key;
  END IF;
  FOR e IN SELECT j.key, j.value FROM jsonb_each(p_key) j LOOP
    v := e.value;
    typ := NULL;
    SELECT format_type(a.atttypid, a.atttypmod) INTO typ FROM pg_attribute a
     WHERE a.attrelid = rel AND a.attname = e.key AND a.attnum > 0 AND NOT a.attisdropped;
    IF typ IS NOT NULL AND jsonb_typeof(v) <> 'null' THEN
      BEGIN
        EXECUTE format('SELECT to_jsonb(r.x) FROM jsonb_to_record($1) AS r(x %s)', typ) INTO v USING jsonb_build_object('x', e.value);
      EXCEPTION WHEN others THEN
        v := e.value;
      END;
    END IF;
    out := out || jsonb_build_object(e.key, coalesce(v, e.value));
  END LOOP;
  RETURN out;
END
$fn$;

-- The jsonb forms a key (an object of key column values) may have been stored in while its
-- column had another type (an ALTER TYPE since): each number also as its text (a text column
-- then), each numeric text also as a number (a numeric column then); a number of another scale
-- is the same jsonb (equality and hash compare numbers by value). At most 64 forms (then the
-- key as given). Lookups by these forms go along the key hash index; key_now decides which of
-- the changes found are the row's.
CREATE OR REPLACE FUNCTION @S.key_forms(p_key jsonb) RETURNS jsonb[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  forms jsonb[] := ARRAY['{}'::jsonb];
  nxt jsonb[];
  alts jsonb[];
  e record;
  f jsonb;
  a jsonb;
BEGIN
  IF p_key IS NULL OR jsonb_typeof(p_key) <> 'object' THEN
    RETURN ARRAY[p_key];
  END IF;
  FOR e IN SELECT j.key, j.value FROM jsonb_each(p_key) j LOOP
    alts := ARRAY[e.value];
    IF jsonb_typeof(e.value) = 'number' THEN
      alts := alts || to_jsonb(e.value #>> '{}');
    ELSIF jsonb_typeof(e.value) = 'string' AND length(e.value #>> '{}') <= 1000 AND (e.value #>> '{}') ~ '^-?[0-9]+([.][0-9]+)?$' THEN
      alts := alts || to_jsonb((e.value #>> '{}')::numeric);
    END IF;
    nxt := '{}';
    FOREACH f IN ARRAY forms LOOP
      FOREACH a IN ARRAY alts LOOP
        nxt := nxt || (f || jsonb_build_object(e.key, a));
      END LOOP;
    END LOOP;
    IF cardinality(nxt) > 64 THEN
      RETURN ARRAY[p_key];
    END IF;
    forms := nxt;
  END LOOP;
  RETURN forms;
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
