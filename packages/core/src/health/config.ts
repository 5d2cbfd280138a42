import { formatTableName, parseTableName, type TableName } from '../capture/identifiers.js';
import { tableKey } from '../capture/table-options.js';
import { ThreadlineError } from '../errors.js';

/** The `health` option: which uncovered tables are expected, and which to audit anyway. */
export interface HealthConfig {
  /** Tables known and accepted to have no capture (`name` or `schema.name`). */
  expectedUncoveredTables?: readonly string[];
  /** Tables to report as uncovered even though the baseline list would expect them uncovered. */
  auditAnyway?: readonly string[];
}

export interface ResolvedHealthConfig {
  readonly expectedUncoveredTables: readonly TableName[];
  readonly auditAnyway: readonly TableName[];
}

const HEALTH_KEYS = ['expectedUncoveredTables', 'auditAnyway'] as const;

function fail(label: string, message: string): never {
  throw new ThreadlineError('CONFIG_INVALID', `${label}: ${message}`);
}

/** A list of table names: an array of non-empty strings, no duplicates. */
export function tableList(value: unknown, label: string): TableName[] {
  if (!Array.isArray(value)) fail(label, 'must be an array of table names, e.g. ["knex_migrations"]');
  const seen = new Set<string>();
  return value.map((entry, i) => {
    if (typeof entry !== 'string' || entry.trim() === '')
      fail(label, `entry ${i} must be a table name string, got ${describe(entry)}`);
    let table: TableName;
    try {
      table = parseTableName(entry);
    } catch (error) {
      fail(label, `entry ${i}: ${(error as Error).message}`);
    }
    const key = tableKey(table);
    if (seen.has(key)) fail(label, `lists ${formatTableName(table)} more than once`);
    seen.add(key);
    return table;
  });
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'string' ? 'an empty string' : `a ${typeof value}`;
}

/**
 * Validate the `health` option (createThreadline and threadline.config): unknown keys, entries
 * that are not strings, duplicates, and a table in both lists are errors naming the key.
 */
export function resolveHealthConfig(value: unknown, label = 'health'): ResolvedHealthConfig {
  if (value === undefined || value === null) return { expectedUncoveredTables: [], auditAnyway: [] };
  if (typeof value !== 'object' || Array.isArray(value))
    fail(label, 'must be an object like { expectedUncoveredTables: ["knex_migrations"] }');
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!(HEALTH_KEYS as readonly string[]).includes(key))
      fail(label, `unknown key "${key.slice(0, 40)}"; the known keys are ${HEALTH_KEYS.join(', ')}`);
  }
  const expected =
    input.expectedUncoveredTables === undefined
      ? []
      : tableList(input.expectedUncoveredTables, `${label}.expectedUncoveredTables`);
  const anyway = input.auditAnyway === undefined ? [] : tableList(input.auditAnyway, `${label}.auditAnyway`);
  const both = expected.filter((t) => anyway.some((a) => tableKey(a) === tableKey(t)));
  if (both.length > 0)
    fail(
      label,
      `${both.map(formatTableName).join(', ')} is in both expectedUncoveredTables and auditAnyway; keep it in one list`,
    );
  return { expectedUncoveredTables: expected, auditAnyway: anyway };
}

/** Validate `verifyCoverage` (threadline.config): `{ expectedTables: [non-empty list] }`. */
export function resolveVerifyCoverageConfig(value: unknown, label = 'verifyCoverage'): TableName[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(label, 'must be an object like { expectedTables: ["posts", "billing.invoices"] }');
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (key !== 'expectedTables')
      fail(label, `unknown key "${key.slice(0, 40)}"; the known key is expectedTables`);
  }
  const tables = tableList(input.expectedTables ?? null, `${label}.expectedTables`);
  if (tables.length === 0) fail(`${label}.expectedTables`, 'must list at least one table');
  return tables;
}
