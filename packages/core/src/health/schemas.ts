import { assertIdentifier } from '../capture/identifiers.js';
import type { OperationsContext } from '../context/operations-context.js';
import { ThreadlineError } from '../errors.js';
import { missingSchemas } from './catalog.js';
import type { SchemaSelection } from './types.js';

/**
 * The schemas to check, validated: `null` means every schema. A name is taken exactly as given
 * (it is only ever a bound parameter), and one that does not exist is a NOT_FOUND error.
 */
export async function resolveSchemas(
  ctx: OperationsContext,
  selection: SchemaSelection | undefined,
  fallback: () => Promise<string[] | null>,
  what: string,
): Promise<string[] | null> {
  if (selection === 'all') return null;
  if (selection === undefined) return await fallback();
  const list = typeof selection === 'string' ? [selection] : selection;
  if (!Array.isArray(list) || list.length === 0)
    throw new ThreadlineError(
      'QUERY_INVALID',
      `${what}: schema must be a schema name, a non-empty array of names, or 'all'`,
    );
  for (const name of list) assertIdentifier(name, `${what}: schema`);
  if (list.includes(ctx.schema))
    throw new ThreadlineError(
      'QUERY_INVALID',
      `${what}: "${ctx.schema}" is Threadline's storage schema, whose tables are never captured; name the schema of your tables`,
    );
  const missing = await missingSchemas(ctx, list, what);
  if (missing.length > 0)
    throw new ThreadlineError(
      'NOT_FOUND',
      `${what}: schema ${missing.map((s) => JSON.stringify(s)).join(', ')} does not exist; names are exact and case-sensitive (list them with \\dn in psql)`,
    );
  return [...new Set(list)];
}
