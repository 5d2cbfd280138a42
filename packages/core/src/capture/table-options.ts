import { ThreadlineError } from '../errors.js';
import { assertIdentifier, formatTableName, parseTableName, type TableName } from './identifiers.js';

/** How one table is captured. Every key is optional. */
export interface TableCaptureOptions {
  /** Columns removed from every captured image and from change detection. */
  exclude?: readonly string[];
  /** Columns whose values are replaced by `maskPlaceholder` everywhere (the key is kept). */
  mask?: readonly string[];
  /** Replacement for masked values: 1–200 characters, no control characters. Default `[REDACTED]`. */
  maskPlaceholder?: string;
  /** Columns ignored when deciding whether an UPDATE changed the row (still stored in data_after). */
  exceptColumns?: readonly string[];
  /** Key columns for a table without a primary key; must match a unique, non-partial, NOT NULL index. */
  primaryKey?: readonly string[];
  /** Store the old values of changed columns on UPDATE (`changed_from`). Default true. */
  changedFrom?: boolean;
  /** Store the full old row on DELETE (`data_before`). Default true. */
  deleteSnapshot?: boolean;
}

/** Options as the database generator receives them (all keys present). */
export interface ResolvedTableOptions {
  exclude: string[];
  mask: string[];
  maskPlaceholder: string;
  exceptColumns: string[];
  primaryKey: string[] | null;
  changedFrom: boolean;
  deleteSnapshot: boolean;
}

const DEFAULT_MASK_PLACEHOLDER = '[REDACTED]';
const OPTION_KEYS = [
  'exclude',
  'mask',
  'maskPlaceholder',
  'exceptColumns',
  'primaryKey',
  'changedFrom',
  'deleteSnapshot',
];
const NEAR_MISSES: Record<string, string> = {
  primary_key: 'primaryKey',
  primaryKeys: 'primaryKey',
  pk: 'primaryKey',
  key: 'primaryKey',
  mask_placeholder: 'maskPlaceholder',
  placeholder: 'maskPlaceholder',
  except_columns: 'exceptColumns',
  ignore: 'exceptColumns',
  ignoreColumns: 'exceptColumns',
  changed_from: 'changedFrom',
  storeChangedFrom: 'changedFrom',
  store_changed_from: 'changedFrom',
  delete_snapshot: 'deleteSnapshot',
  excluded: 'exclude',
  masked: 'mask',
  redact: 'mask',
};

function fail(table: string, message: string): never {
  throw new ThreadlineError('CONFIG_INVALID', `tables["${table}"]: ${message}`);
}

function columnList(table: string, key: string, value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail(table, `${key} must be an array of column names, e.g. ${key}: ["email"]`);
  const out: string[] = [];
  for (const item of value) {
    if (typeof item !== 'string' || item.length === 0)
      fail(table, `${key} must contain only non-empty column names`);
    assertIdentifier(item, `tables["${table}"].${key} column`);
    if (!out.includes(item)) out.push(item);
  }
  return out;
}

/** Validate one table's options; throws ThreadlineError('CONFIG_INVALID') that names the fix. */
export function resolveTableOptions(table: string, options: unknown): ResolvedTableOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options))
    fail(table, 'options must be an object, e.g. { mask: ["email"] }');
  const input = options as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (OPTION_KEYS.includes(key)) continue;
    const hint = NEAR_MISSES[key];
    fail(
      table,
      hint
        ? `unknown option "${key}"; did you mean "${hint}"?`
        : `unknown option "${key.slice(0, 40)}"; known options are ${OPTION_KEYS.join(', ')}`,
    );
  }
  const exclude = columnList(table, 'exclude', input.exclude);
  const mask = columnList(table, 'mask', input.mask);
  const exceptColumns = columnList(table, 'exceptColumns', input.exceptColumns);
  const overlap = exclude.filter((c) => mask.includes(c));
  if (overlap.length > 0) {
    fail(
      table,
      `column(s) ${overlap.join(', ')} are in both exclude and mask; a column is either removed (exclude) or hidden (mask), not both`,
    );
  }
  let primaryKey: string[] | null = null;
  if (input.primaryKey !== undefined) {
    primaryKey = columnList(table, 'primaryKey', input.primaryKey);
    if (primaryKey.length === 0) fail(table, 'primaryKey must name at least one column');
    if ((input.primaryKey as unknown[]).length !== primaryKey.length)
      fail(table, 'primaryKey lists a column twice');
    const redacted = primaryKey.filter((c) => exclude.includes(c) || mask.includes(c));
    if (redacted.length > 0)
      fail(
        table,
        `key column(s) ${redacted.join(', ')} cannot be excluded or masked: audit rows are found by their key`,
      );
  }
  let maskPlaceholder = DEFAULT_MASK_PLACEHOLDER;
  if (input.maskPlaceholder !== undefined) {
    const p = input.maskPlaceholder;
    if (typeof p !== 'string') fail(table, 'maskPlaceholder must be a string');
    if (p.length === 0) fail(table, 'maskPlaceholder must not be empty');
    if ([...p].length > 200) fail(table, 'maskPlaceholder must be at most 200 characters');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    if (/[\u0000-\u001f\u007f]/.test(p)) fail(table, 'maskPlaceholder must not contain control characters');
    maskPlaceholder = p;
  }
  for (const flag of ['changedFrom', 'deleteSnapshot'] as const) {
    if (input[flag] !== undefined && typeof input[flag] !== 'boolean')
      fail(table, `${flag} must be true or false`);
  }
  return {
    exclude,
    mask,
    maskPlaceholder,
    exceptColumns,
    primaryKey,
    changedFrom: input.changedFrom !== false,
    deleteSnapshot: input.deleteSnapshot !== false,
  };
}

export interface ConfiguredTable {
  readonly table: TableName;
  readonly options: ResolvedTableOptions;
}

/** Validate a `tables` map; `posts` and `public.posts` naming one table is an error. */
export function resolveTablesConfig(tables: unknown): Map<string, ConfiguredTable> {
  const out = new Map<string, ConfiguredTable>();
  if (tables === undefined || tables === null) return out;
  if (typeof tables !== 'object' || Array.isArray(tables)) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      'tables must be an object keyed by table name, e.g. { posts: { mask: ["email"] } }',
    );
  }
  for (const [key, options] of Object.entries(tables as Record<string, unknown>)) {
    const table = parseTableName(key);
    const id = tableKey(table);
    const existing = out.get(id);
    if (existing) {
      throw new ThreadlineError(
        'CONFIG_INVALID',
        `tables lists ${formatTableName(table)} under more than one key; keep one entry per table`,
      );
    }
    out.set(id, { table, options: resolveTableOptions(key, options) });
  }
  return out;
}

/** A stable map key for a table. */
export function tableKey(table: TableName): string {
  return JSON.stringify([table.schema, table.name]);
}
