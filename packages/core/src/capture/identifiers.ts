import { ThreadlineError } from '../errors.js';

/** A table named by schema and name, both exact (case-sensitive) PostgreSQL identifiers. */
export interface TableName {
  readonly schema: string;
  readonly name: string;
}

const MAX_IDENTIFIER_BYTES = 63;

/** Quote an identifier for SQL text: always double-quoted, embedded quotes doubled. */
export function quoteIdent(name: string): string {
  assertIdentifier(name, 'identifier');
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quote a string literal for SQL text (only for DDL that cannot take bound parameters). */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000'))
    throw new ThreadlineError('CONFIG_INVALID', 'a SQL literal must not contain NUL bytes');
  // A backslash gets an E'' literal: a plain one means something else in a session with
  // standard_conforming_strings = off.
  if (value.includes('\\')) return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  return `'${value.replace(/'/g, "''")}'`;
}

export function assertIdentifier(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new ThreadlineError('CONFIG_INVALID', `${what} must be a non-empty string`);
  }
  if (name.includes('\u0000'))
    throw new ThreadlineError('CONFIG_INVALID', `${what} must not contain NUL bytes`);
  // A lone UTF-16 surrogate has no UTF-8 form: the driver would send U+FFFD instead, and the
  // name captured would not be the name given.
  if (/\p{Cs}/u.test(name))
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${what} must be well-formed Unicode (it holds a lone UTF-16 surrogate)`,
    );
  if (Buffer.byteLength(name, 'utf8') > MAX_IDENTIFIER_BYTES) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${what} "${name.slice(0, 70)}" is longer than ${MAX_IDENTIFIER_BYTES} bytes, so PostgreSQL would truncate it; use the exact (truncated) name`,
    );
  }
}

/**
 * Parse `name`, `schema.name` or a quoted form such as `"my.schema"."odd,name"`.
 * Unquoted parts are taken exactly as written (no case folding): `Posts` means the table "Posts".
 */
export function parseTableName(text: string, defaultSchema = 'public'): TableName {
  if (typeof text !== 'string' || text.trim() === '') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'a table name must be a non-empty string like "posts" or "billing.invoices"',
    );
  }
  const parts = splitQualified(text.trim());
  if (parts.length === 1) {
    assertIdentifier(parts[0], 'table name');
    return { schema: defaultSchema, name: parts[0]! };
  }
  if (parts.length === 2) {
    assertIdentifier(parts[0], 'schema name');
    assertIdentifier(parts[1], 'table name');
    return { schema: parts[0]!, name: parts[1]! };
  }
  throw new ThreadlineError(
    'CONFIG_INVALID',
    `"${text.slice(0, 80)}" is not NAME or SCHEMA.NAME; write a name containing a dot in double quotes, e.g. "app"."my.table"`,
  );
}

function splitQualified(text: string): string[] {
  const parts: string[] = [];
  let i = 0;
  while (i < text.length) {
    if (text[i] === '"') {
      let part = '';
      i++;
      for (;;) {
        if (i >= text.length)
          throw new ThreadlineError(
            'CONFIG_INVALID',
            `unterminated double quote in table name ${text.slice(0, 80)}`,
          );
        if (text[i] === '"') {
          if (text[i + 1] === '"') {
            part += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        part += text[i];
        i++;
      }
      parts.push(part);
    } else {
      const dot = text.indexOf('.', i);
      const end = dot === -1 ? text.length : dot;
      const part = text.slice(i, end);
      if (part.includes('"'))
        throw new ThreadlineError(
          'CONFIG_INVALID',
          `misplaced double quote in table name ${text.slice(0, 80)}`,
        );
      parts.push(part);
      i = end;
    }
    if (i < text.length) {
      if (text[i] !== '.')
        throw new ThreadlineError(
          'CONFIG_INVALID',
          `expected "." after a quoted name in ${text.slice(0, 80)}`,
        );
      i++;
      if (i === text.length)
        throw new ThreadlineError('CONFIG_INVALID', `table name ${text.slice(0, 80)} ends with "."`);
    }
  }
  return parts;
}

/** Split a comma-separated `--tables` list, honouring double quotes (a quoted name may hold commas). */
export function splitTableList(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (const ch of text) {
    if (ch === '"') quoted = !quoted;
    if (ch === ',' && !quoted) {
      out.push(current.trim());
      current = '';
    } else current += ch;
  }
  if (quoted)
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `unterminated double quote in table list ${text.slice(0, 80)}`,
    );
  out.push(current.trim());
  const names = out.filter((s) => s !== '');
  if (names.length === 0)
    throw new ThreadlineError(
      'CONFIG_INVALID',
      '--tables needs at least one table name, e.g. --tables posts,billing.invoices',
    );
  return names;
}

/** `name` for the public schema, `schema.name` otherwise; quoted where needed so it parses back. */
export function formatTableName(table: TableName): string {
  const part = (s: string) => (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`);
  return table.schema === 'public' ? part(table.name) : `${part(table.schema)}.${part(table.name)}`;
}

/** Fully quoted `"schema"."name"` for SQL text. */
export function qualifiedTable(table: TableName): string {
  return `${quoteIdent(table.schema)}.${quoteIdent(table.name)}`;
}
