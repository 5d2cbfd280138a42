/**
 * Expression builders of the capture generator: they return SQL text that capture_plan pastes into
 * the generated function. `@S` is the quoted storage schema. Each one exists so that no column
 * name, type or collation can change what the generated SQL means (issue 15):
 * - capture_alias: every alias the generated SQL uses is chosen so that it is not a column name
 *   (a column named like an alias would otherwise be read instead of the row);
 * - capture_compare: "did this value change" compares what the audit row stores (the value's JSON
 *   text, byte for byte), not the type's `=`, which calls 1.0 and 1.00, '1 mon' and '30 days',
 *   'alice' and 'ALICE' under a case-insensitive collation equal, and may not be visible at all
 *   from the function's search_path (an extension type's operator);
 * - capture_image: a row image without the excluded columns, built without ever converting them;
 * - capture_join: long `||` chains nested in short groups (a flat chain of 1,600 would nest 1,600
 *   deep in the parser).
 */
export const CAPTURE_EXPRESSIONS = String.raw`
-- An alias that is none of p_taken (column names): p_base, else p_base_2, p_base_3, ...
CREATE OR REPLACE FUNCTION @S.capture_alias(p_base text, p_taken text[]) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE WHEN NOT p_base = ANY(p_taken) THEN p_base ELSE
    (SELECT p_base || '_' || g FROM generate_series(2, cardinality(p_taken) + 2) g
      WHERE NOT (p_base || '_' || g) = ANY(p_taken) ORDER BY g LIMIT 1) END
$fn$;

-- SQL that is true when the two values of type p_type differ as stored in an audit row.
-- Types whose '=' is equality of the stored bytes (integers, booleans, uuids, timestamps, enums,
-- bytea, ... and arrays of them) keep the native comparison (fastest); text-like types compare
-- byte-wise (COLLATE "C": a non-deterministic collation's '=' ignores case or accents);
-- everything else compares its JSON text: numeric scale, interval units, jsonb number text,
-- float -0, bpchar trailing blanks and extension types (no operator lookup at all). json is
-- compared as jsonb text: whitespace or key order alone, which the stored jsonb image cannot
-- show, is not a change.
-- PL/pgSQL with index lookups along the domain chain (a recursive CTE over pg_type cost 0.3 ms
-- a call, once per column on every regeneration: most of what a 100-column regeneration took).
CREATE OR REPLACE FUNCTION @S.capture_compare(p_type oid, p_a text, p_b text) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  cur oid := p_type;
  t record;
  e record;
  is_array boolean := false;
BEGIN
  -- The base type under at most 10 domains. A deeper chain or an unknown type compares its JSON
  -- text, always right: a NULL here shifted the generated per-column comparisons by one.
  FOR depth IN 0 .. 10 LOOP
    SELECT ty.typtype, ty.typbasetype, ty.typcategory, ty.typelem, ty.typnamespace, ty.typname INTO t
      FROM pg_type ty WHERE ty.oid = cur;
    IF NOT FOUND THEN EXIT; END IF;
    EXIT WHEN t.typtype <> 'd';
    cur := t.typbasetype;
  END LOOP;
  IF t.typtype IS NULL OR t.typtype = 'd' THEN
    RETURN format('(to_jsonb(%s)::text COLLATE "C") IS DISTINCT FROM (to_jsonb(%s)::text COLLATE "C")', p_a, p_b);
  END IF;
  -- An array is compared natively when its element type is.
  IF t.typcategory = 'A' THEN
    SELECT ty.typtype, ty.typnamespace, ty.typname INTO e FROM pg_type ty WHERE ty.oid = t.typelem;
    IF FOUND THEN
      t := e;
      is_array := true;
    END IF;
  END IF;
  RETURN CASE
    WHEN t.typtype = 'e' OR (t.typnamespace = 'pg_catalog'::regnamespace AND t.typname IN (
           'int2', 'int4', 'int8', 'bool', 'uuid', 'date', 'timestamp', 'timestamptz', 'time', 'oid', 'bytea',
           'char', 'money', 'inet', 'cidr', 'macaddr', 'macaddr8'))
      THEN format('%s IS DISTINCT FROM %s', p_a, p_b)
    WHEN NOT is_array AND t.typnamespace = 'pg_catalog'::regnamespace AND t.typname IN ('text', 'varchar', 'name')
      THEN format('(%s COLLATE "C") IS DISTINCT FROM (%s COLLATE "C")', p_a, p_b)
    WHEN NOT is_array AND t.typnamespace = 'pg_catalog'::regnamespace AND t.typname = 'jsonb'
      THEN format('(%s::text COLLATE "C") IS DISTINCT FROM (%s::text COLLATE "C")', p_a, p_b)
    ELSE format('(to_jsonb(%s)::text COLLATE "C") IS DISTINCT FROM (to_jsonb(%s)::text COLLATE "C")', p_a, p_b)
  END;
END
$fn$;

-- p_parts joined with p_op, nested in groups of 32; p_empty when there are none.
CREATE OR REPLACE FUNCTION @S.capture_join(p_parts text[], p_op text, p_empty text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  parts text[] := coalesce(p_parts, '{}');
  grouped text[];
BEGIN
  IF cardinality(parts) = 0 THEN RETURN p_empty; END IF;
  WHILE cardinality(parts) > 1 LOOP
    SELECT array_agg('(' || array_to_string(parts[g * 32 + 1 : g * 32 + 32], p_op) || ')' ORDER BY g) INTO grouped
      FROM generate_series(0, (cardinality(parts) - 1) / 32) g;
    parts := grouped;
  END LOOP;
  RETURN parts[1];
END
$fn$;

-- The JSON image of row p_row (an alias of the table's row type) without the columns p_skip.
-- With nothing to skip it is to_jsonb(row); otherwise the kept columns of p_cols are converted one
-- by one (jsonb_build_object renders each value exactly as to_jsonb does), so an excluded or
-- masked value is never converted (one too large for JSON cannot fail the write), and a column
-- not in p_cols (renamed or added since generation) is never in the image.
CREATE OR REPLACE FUNCTION @S.capture_image(p_row text, p_cols text[], p_skip text[]) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE WHEN cardinality(p_skip) = 0 THEN format('to_jsonb(%s)', p_row) ELSE
    @S.capture_join(ARRAY(
      SELECT 'jsonb_build_object(' || string_agg(format('%L, %s.%I', c, p_row, c), ', ' ORDER BY n) || ')'
        FROM unnest(p_cols) WITH ORDINALITY AS k(c, n) WHERE NOT c = ANY(p_skip)
       GROUP BY (n - 1) / 50 ORDER BY (n - 1) / 50), ' || ', '''{}''::jsonb') END
$fn$;

-- Redaction applied to a row image expression. In portable mode a row that lacks a redacted or
-- key column (renamed since generation) is hidden instead of stored unredacted.
-- A portable row image with the values of columns unknown at generation replaced by a marker
-- (their names stay, so the image still shows that the table changed shape).
CREATE OR REPLACE FUNCTION @S.capture_hide_unknown(p_image jsonb, p_known text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE WHEN p_image IS NULL THEN NULL ELSE coalesce((
    SELECT jsonb_object_agg(e.key, CASE WHEN e.key = ANY(p_known) THEN e.value
      ELSE to_jsonb('[hidden: column added or renamed since capture was generated; run threadline gen-triggers]'::text) END)
    FROM jsonb_each(p_image) e), '{}'::jsonb) END
$fn$;

CREATE OR REPLACE FUNCTION @S.capture_redact(p_expr text, p_exclude text[], p_mask jsonb, p_guard text[], p_stale text)
RETURNS text LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT CASE WHEN cardinality(p_guard) = 0 THEN r ELSE format('(CASE WHEN %s ?& %L::text[] THEN %s ELSE %s END)', p_expr, p_guard, r, p_stale) END
  FROM (SELECT CASE WHEN p_mask IS NULL THEN e ELSE format('(%s || %L::jsonb)', e, p_mask::text) END AS r
          FROM (SELECT CASE WHEN cardinality(p_exclude) = 0 THEN p_expr ELSE format('(%s - %L::text[])', p_expr, p_exclude) END AS e) a) b
$fn$;
`;
