/**
 * Install-time verification of the registry against the catalog (after a restore, a replica
 * promotion or a role change). `@S` is the quoted storage schema, `@LIT` its name as a literal.
 *
 * capture_repair_all() brings every registered table's capture back in line (a restore renumbers
 * columns and index ids; a restore without event triggers leaves compiled functions that the
 * next ALTER would break, so they are regenerated in portable mode). It changes nothing and takes
 * no lock when everything is current. capture_findings() lists what install cannot repair.
 */
export const CAPTURE_VERIFY = String.raw`
CREATE OR REPLACE FUNCTION @S.capture_repair_all() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  r record;
  n integer := 0;
BEGIN
  FOR r IN SELECT ct.relid FROM @S.captured_tables ct ORDER BY ct.table_schema, ct.table_name LOOP
    PERFORM @S.refresh_capture(r.relid);
    n := n + 1;
  END LOOP;
  RETURN n;
END
$fn$;

CREATE OR REPLACE FUNCTION @S.capture_findings() RETURNS TABLE (code text, relation text, message text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $fn$
  -- Capture triggers on tables the registry does not list (e.g. a --schema-only restore): their
  -- options (masks, excludes) are unknown, so install cannot regenerate them.
  SELECT 'unregistered', format('%s', tg.tgrelid::regclass),
         format('%s has Threadline capture triggers but is not in the registry (a restore without the registry''s data?): its redaction options are unknown. Run threadline gen-triggers --apply with your table configuration, or threadline uninstall.', tg.tgrelid::regclass)
    FROM pg_trigger tg
   WHERE tg.tgname = 'threadline_capture_insert' AND @S.capture_is_function(tg.tgfoid)
     AND NOT EXISTS (SELECT 1 FROM @S.captured_tables ct WHERE ct.relid = coalesce(pg_partition_root(tg.tgrelid), tg.tgrelid))
  UNION ALL
  SELECT 'trigger-disabled', format('%s', tg.tgrelid::regclass),
         format('capture trigger %s on %s is %s: its changes are not recorded', tg.tgname, tg.tgrelid::regclass,
                CASE tg.tgenabled WHEN 'D' THEN 'disabled' ELSE 'enabled for replica sessions only' END)
    FROM @S.captured_tables ct JOIN pg_trigger tg ON tg.tgrelid = ANY(ct.relations) AND tg.tgname = ANY(@S.capture_trigger_names())
   WHERE tg.tgenabled IN ('D', 'R')
  UNION ALL
  SELECT 'portable-fallback', format('%I.%I', ct.table_schema, ct.table_name),
         format('%I.%I is captured in portable mode because its configured options could not be applied (see the warning at the last ALTER); run threadline gen-triggers --apply', ct.table_schema, ct.table_name)
    FROM @S.captured_tables ct WHERE ct.shape IS NULL AND ct.mode = 'portable'
     AND EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'threadline_sync_' || md5(@LIT) AND evtenabled = 'A')
  UNION ALL
  -- A cast to json another role owns that capture (a definer function) would run (privileges.ts):
  -- created while event triggers were off, or by DDL they do not see.
  SELECT 'unsafe-cast', format('%I.%I', ct.table_schema, ct.table_name),
         format('capture of %I.%I would run another role''s code with the owner''s rights: %s. Have a superuser own the function (ALTER FUNCTION ... OWNER TO) or drop the cast (docs/security.md)',
                ct.table_schema, ct.table_name, u.what)
    FROM @S.capture_unsafe_casts(ARRAY(SELECT relid::oid FROM @S.captured_tables)) u
    JOIN @S.captured_tables ct ON ct.relid = u.relid
  UNION ALL
  -- Something capture needs that DROP EXTENSION would drop with the extension (ALTER ... DEPENDS ON
  -- EXTENSION, by hand or before DDL sync refused it for capture triggers): a trigger calling one of
  -- our functions, one of our functions, one of our indexes. The fix is the exact NO DEPENDS statement.
  SELECT 'extension-dependency', x.relation,
         format('%s depends on extension %I: DROP EXTENSION %I would drop it, and %s without a record. Remove the dependency: %s',
                x.what, e.extname, e.extname, x.effect, x.fix || quote_ident(e.extname) || ';')
    FROM (
      SELECT 'pg_trigger'::regclass AS classid, tg.oid AS objid, format('%s', tg.tgrelid::regclass) AS relation,
             format('capture trigger %I on %s', tg.tgname, tg.tgrelid::regclass) AS what,
             'capture of that table would stop' AS effect,
             format('ALTER TRIGGER %I ON %s NO DEPENDS ON EXTENSION ', tg.tgname, tg.tgrelid::regclass) AS fix
        FROM pg_trigger tg JOIN pg_proc p ON p.oid = tg.tgfoid JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE n.nspname = @LIT AND NOT tg.tgisinternal
      UNION ALL
      SELECT 'pg_proc'::regclass, p.oid, format('%s', p.oid::regprocedure), format('function %s', p.oid::regprocedure),
             'capture or Threadline''s SQL would fail or stop',
             format('ALTER %s %s NO DEPENDS ON EXTENSION ', CASE p.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, p.oid::regprocedure)
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = @LIT
      UNION ALL
      SELECT 'pg_class'::regclass, c.oid, format('%s', c.oid::regclass), format('index %s', c.oid::regclass),
             'audit reads would lose that index',
             format('ALTER INDEX %s NO DEPENDS ON EXTENSION ', c.oid::regclass)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = @LIT AND c.relkind IN ('i', 'I')
    ) x
    JOIN pg_depend d ON d.classid = x.classid AND d.objid = x.objid AND d.refclassid = 'pg_extension'::regclass AND d.deptype = 'x'
    JOIN pg_extension e ON e.oid = d.refobjid
  UNION ALL
  -- Roles other than the owner (and superusers) that may write any of Threadline's tables or move
  -- its sequences directly (docs/security.md): audit-writable. The operational tables
  -- (retention_runs, export_jobs, and their sequences) may be granted to the processes that run
  -- retention and exports: operational-writable, reported but not a failure.
  SELECT CASE WHEN g.operational THEN 'operational-writable' ELSE 'audit-writable' END, format('%I.%I', g.nspname, g.relname),
         CASE WHEN g.operational
           THEN format('%s may %s %I.%I directly; that is expected only for a role that runs Threadline''s retention or exports (otherwise REVOKE %s ON %s %I.%I FROM %s; docs/security.md)',
                       g.grantee, g.privs, g.nspname, g.relname, g.privs, g.kind, g.nspname, g.relname, g.grantee)
           ELSE format('%s may %s %I.%I directly, so it can forge, alter or remove audit rows; revoke it (REVOKE %s ON %s %I.%I FROM %s) unless that role administers Threadline (docs/security.md)',
                       g.grantee, g.privs, g.nspname, g.relname, g.privs, g.kind, g.nspname, g.relname, g.grantee)
         END
    FROM (
      SELECT n.nspname, c.relname, coalesce(quote_ident(r.rolname), 'PUBLIC') AS grantee,
             string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type) AS privs,
             CASE WHEN c.relkind = 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
             coalesce(owner_tab.relname, c.relname) IN ('retention_runs', 'export_jobs') AS operational
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
        LEFT JOIN LATERAL (SELECT t.relname FROM pg_depend d JOIN pg_class t ON t.oid = d.refobjid
                            WHERE c.relkind = 'S' AND d.classid = 'pg_class'::regclass AND d.objid = c.oid
                              AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') LIMIT 1) owner_tab ON true
       WHERE n.nspname = @LIT
         AND ((c.relkind IN ('r', 'p') AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'))
              OR (c.relkind = 'S' AND a.privilege_type IN ('USAGE', 'UPDATE')))
         AND a.grantee <> c.relowner AND NOT coalesce(r.rolsuper, false)
       GROUP BY n.nspname, c.relname, c.relkind, r.rolname, owner_tab.relname
    ) g
  ORDER BY 1, 2
$fn$;
`;
