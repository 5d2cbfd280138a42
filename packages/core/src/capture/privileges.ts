/**
 * Who may write audit rows (SPEC section 13, issue 12; docs/security.md). `@S` is the quoted
 * storage schema, `@LIT` its name as a string literal.
 *
 * Application roles get no privilege on any of Threadline's tables or sequences: capture writes
 * through its generated functions, which are SECURITY DEFINER (owned by the role that installs
 * capture, like the audit tables) with search_path pinned, and record_action and
 * current_transaction_id already are. So a role is captured and attributed, can bind context and
 * record actions, but cannot INSERT, UPDATE, DELETE or TRUNCATE audit rows, nor move a sequence.
 * Nobody but the owner may call a capture function or attach one to another table (EXECUTE is
 * revoked from PUBLIC; CREATE TRIGGER needs it).
 *
 * A definer function runs the code it calls with its owner's rights. The only user code capture
 * can reach is a cast to json of a user-defined type (to_jsonb uses it): a table whose column
 * types (through domains, arrays and composites) have such a cast whose function is owned by
 * neither a superuser nor the owner is refused at generation; the DDL event trigger refuses any
 * CREATE CAST, ALTER TYPE, ALTER DOMAIN or ALTER TABLE (of a table used as a column type) that
 * would give an audited table one; install reports one that exists anyway (unsafe-cast). Such a
 * function, once accepted, cannot be replaced (CREATE OR REPLACE) or given away by another role:
 * both need its ownership.
 */
/**
 * The recursive CTE `types(relid, oid, depth)`: every type a column of the tables `seed` selects
 * (a condition on pg_attribute `a`) reaches, through domains, arrays and composites, as to_jsonb
 * walks them. Shared by capture_unsafe_casts() and the unsafe_cast health finding.
 */
export function typesUnderColumns(seed: string): string {
  return `types(relid, oid, depth) AS (
    SELECT a.attrelid, a.atttypid, 0 FROM pg_attribute a
     WHERE ${seed} AND a.attnum > 0 AND NOT a.attisdropped
    UNION
    SELECT t.relid, x.oid, t.depth + 1
      FROM types t JOIN pg_type ty ON ty.oid = t.oid
      CROSS JOIN LATERAL (
        SELECT ty.typbasetype WHERE ty.typtype = 'd'
        UNION ALL SELECT ty.typelem WHERE ty.typelem <> 0 AND ty.typsubscript = 'array_subscript_handler'::regproc
        UNION ALL SELECT a.atttypid FROM pg_attribute a
                   WHERE ty.typrelid <> 0 AND a.attrelid = ty.typrelid AND a.attnum > 0 AND NOT a.attisdropped
      ) AS x(oid)
     WHERE t.depth < 16
  )`;
}

export const PRIVILEGES_DDL = String.raw`
-- For each of p_relids, a description of the first cast to json that to_jsonb would run for one of
-- its values and whose function neither a superuser nor the current role owns (no row when none).
-- to_jsonb, jsonb_build_object and to_json look through domains to the base type, descend into
-- arrays and composites, and for a type that is not built in (oid >= 16384) use its cast to json
-- only (never a cast to jsonb; PostgreSQL's json_categorize_type). A range or multirange is
-- rendered by its output functions (C, superuser-only), so no cast under it is reached.
CREATE OR REPLACE FUNCTION @S.capture_unsafe_casts(p_relids oid[]) RETURNS TABLE (relid oid, what text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  WITH RECURSIVE ${typesUnderColumns('a.attrelid = ANY(p_relids)')}
  SELECT DISTINCT ON (t.relid) t.relid,
         format('the cast from %s to %s runs %s, owned by %s', c.castsource::regtype, c.casttarget::regtype,
                c.castfunc::regprocedure, pg_get_userbyid(p.proowner))
    FROM (SELECT DISTINCT types.relid, types.oid FROM types) t
    JOIN pg_type st ON st.oid = t.oid AND st.typtype <> 'd' AND st.oid >= 16384
    JOIN pg_cast c ON c.castsource = t.oid AND c.casttarget = 'json'::regtype AND c.castfunc <> 0
    JOIN pg_proc p ON p.oid = c.castfunc
   WHERE p.proowner <> (SELECT r.oid FROM pg_roles r WHERE r.rolname = current_user)
     AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = p.proowner AND r.rolsuper)
   ORDER BY t.relid, 2
$fn$;

-- Runs on every regeneration: without any user-defined cast to json (most databases) the walk
-- over the table's types is skipped (a one-time filter; it cost more than a plain ALTER).
CREATE OR REPLACE FUNCTION @S.capture_unsafe_cast(p_relid oid) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  SELECT u.what FROM @S.capture_unsafe_casts(ARRAY[p_relid]) u
   WHERE EXISTS (SELECT 1 FROM pg_cast c WHERE c.casttarget = 'json'::regtype AND c.castfunc <> 0 AND c.castsource >= 16384)
$fn$;

-- Refuse to capture p_relid (TLRF1) when capture would run another role's code with its rights.
CREATE OR REPLACE FUNCTION @S.capture_check_casts(p_relid oid) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  unsafe text := @S.capture_unsafe_cast(p_relid);
BEGIN
  IF unsafe IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'TLRF1',
      MESSAGE = format('threadline: cannot capture %s: %s, and capture would run it with the rights of Threadline''s owner (it converts every value to JSON)', p_relid::regclass, unsafe),
      HINT = 'Review the cast function and have a superuser own it (ALTER FUNCTION ... OWNER TO), or drop the cast, then capture the table.';
  END IF;
END
$fn$;

-- The same check for every captured table (after DDL that can change the types their values reach:
-- CREATE CAST, ALTER TYPE ... ADD/ALTER ATTRIBUTE, ALTER DOMAIN, ALTER TABLE of a table whose row
-- type an audited column uses).
CREATE OR REPLACE FUNCTION @S.capture_check_all_casts() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
BEGIN
  SELECT u.relid, u.what INTO r FROM @S.capture_unsafe_casts(ARRAY(SELECT ct.relid::oid FROM @S.captured_tables ct)) u
   ORDER BY u.relid::regclass::text LIMIT 1;
  IF r IS NOT NULL THEN
    PERFORM @S.capture_check_casts(r.relid);
  END IF;
END
$fn$;

-- No role but the owner writes Threadline's tables or moves its sequences (reads stay as granted).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA @S FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @S FROM PUBLIC;

-- Capture functions generated before capture ran as definer (SCHEMA_VERSION < 3) are switched
-- over in place: same body, owner's rights, no EXECUTE for PUBLIC.
DO $do$
DECLARE
  storage text := @LIT;
  r record;
BEGIN
  FOR r IN SELECT ct.relid, p.oid::regprocedure AS fn, p.prosecdef
             FROM @S.captured_tables ct
             JOIN pg_proc p ON p.oid = to_regprocedure(format('%I.%I()', storage, ct.function_name)) LOOP
    IF NOT r.prosecdef THEN
      PERFORM @S.capture_check_casts(r.relid);
      EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', r.fn);
    END IF;
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', r.fn);
  END LOOP;
END
$do$;
`;
