import { typesUnderColumns } from '../capture/privileges.js';
import type { OperationsContext } from '../context/operations-context.js';
import { toThreadlineError } from '../db/db-errors.js';

/**
 * A cast to json that capture of a table would run (to_jsonb uses a user-defined type's cast to
 * json, through domains, arrays and composites) and whose function is owned by neither a
 * superuser nor the owner of the table's capture function: capture, a SECURITY DEFINER
 * function, would run that role's code with the owner's rights (capture/privileges.ts).
 */
export interface UnsafeCast {
  relid: string;
  /** The cast's source type and function, as SQL (quoted where needed). */
  source: string;
  function: string;
  functionOwner: string;
}

/**
 * The unsafe casts of the captured tables of `schemas` (null: every schema), in one catalog query.
 * The same walk as capture_unsafe_casts() in the database, but measured against the owner of each
 * table's capture function instead of the role that runs the check (health may run as a
 * monitoring role, on a replica).
 */
export async function readUnsafeCasts(
  ctx: OperationsContext,
  schemas: readonly string[] | null,
  what: string,
): Promise<UnsafeCast[]> {
  try {
    const { rows } = await ctx.client.query<UnsafeCast>(
      `WITH RECURSIVE captured AS (
         SELECT ct.relid::oid AS relid,
                coalesce((SELECT p.proowner FROM pg_proc p
                           WHERE p.proname = ct.function_name AND p.pronargs = 0
                             AND p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = $1)),
                         (SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                           WHERE n.nspname = $1 AND c.relname = 'captured_tables')) AS owner
           FROM ${ctx.q}.captured_tables ct
          WHERE $2::text[] IS NULL OR ct.table_schema = ANY($2::text[])
       ), ${typesUnderColumns('a.attrelid IN (SELECT relid FROM captured)')}
       SELECT DISTINCT t.relid::text AS relid, c.castsource::regtype::text AS source,
              c.castfunc::regprocedure::text AS "function", pg_get_userbyid(p.proowner)::text AS "functionOwner"
         FROM (SELECT DISTINCT types.relid, types.oid FROM types) t
         JOIN captured cap ON cap.relid = t.relid
         JOIN pg_type st ON st.oid = t.oid AND st.typtype <> 'd' AND st.oid >= 16384
         JOIN pg_cast c ON c.castsource = t.oid AND c.casttarget = 'json'::regtype AND c.castfunc <> 0
         JOIN pg_proc p ON p.oid = c.castfunc
        WHERE p.proowner IS DISTINCT FROM cap.owner
          AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.oid = p.proowner AND r.rolsuper)
        ORDER BY 1, 2, 3`,
      [ctx.schema, schemas],
    );
    return rows;
  } catch (error) {
    throw toThreadlineError(error, what);
  }
}
