import { quoteIdent, quoteLiteral } from '../capture/identifiers.js';

/** `jsonb_build_object('k', <alias>."k", ...)`: the key as capture stores it in table_pk. */
export function keyObjectSql(alias: string, keyColumns: readonly string[]): string {
  return `jsonb_build_object(${keyColumns.map((k) => `${quoteLiteral(k)}, ${alias}.${quoteIdent(k)}`).join(', ')})`;
}

/** The same from a row image `j` (to_jsonb of the row): `jsonb_build_object('k', j -> 'k', ...)`. */
export function keyFromImageSql(image: string, keyColumns: readonly string[]): string {
  return `jsonb_build_object(${keyColumns.map((k) => `${quoteLiteral(k)}, ${image} -> ${quoteLiteral(k)}`).join(', ')})`;
}

export const UTC_SQL = "SET LOCAL TimeZone = 'UTC'";
