import { callerCallback, rethrowCallerError } from '../caller-callback.js';
import { toThreadlineError } from '../db/db-errors.js';
import type { SqlClient } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { installScript, SCHEMA_VERSION } from '../install/install-script.js';
import { isObjectInput, readInput } from '../plain-input.js';
import { TELEMETRY_CHANNELS } from '../telemetry/channels.js';
import { publish } from '../telemetry/publish.js';
import { formatTableName, parseTableName, type TableName } from './identifiers.js';
import {
  type ConfiguredTable,
  type ResolvedTableOptions,
  resolveTableOptions,
  tableKey,
} from './table-options.js';

export interface CapturePlan {
  table: TableName;
  /** `compiled` (native column reads, kept current by the DDL event trigger) or `portable`. */
  mode: 'compiled' | 'portable';
  functionName: string;
  /** The tables that get triggers: the table itself and, for a partitioned table, every partition. */
  relations: string[];
  keyColumns: string[];
  keySource: string;
  options: ResolvedTableOptions;
  /** Limits PostgreSQL imposes on capturing this table (e.g. MERGE moving rows between partitions). */
  warnings: string[];
  /** The generated function (only in plans from planTriggers). */
  functionSql?: string;
}

export interface TriggerOptions {
  /** Table names (`name` or `schema.name`); default: every table in the `tables` option. */
  tables?: readonly string[];
  /** Called before each table is processed (for progress output). */
  onTable?: (table: TableName, index: number, total: number) => void;
}

/** What the trigger operations need from a Threadline instance. */
export interface TriggerContext {
  client: SqlClient;
  schema: string;
  /** The quoted storage schema. */
  q: string;
  tables: Map<string, ConfiguredTable>;
  assertInstalled(what: string): Promise<void>;
  installedVersion(): Promise<number | null>;
}

/** The options of installTriggers, planTriggers and removeTriggers, read once (null: none). */
function triggerOptions(input: unknown, where: string): TriggerOptions {
  if (input === undefined || input === null) return {};
  if (!isObjectInput(input))
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${where}: options must be an object like { tables: ["posts"] }`,
    );
  const options = readInput(input, `${where} options`, 'CONFIG_INVALID') as TriggerOptions;
  if (options.onTable !== undefined && typeof options.onTable !== 'function')
    throw new ThreadlineError('CONFIG_INVALID', `${where}: onTable must be a function`);
  return { ...options, onTable: callerCallback(options.onTable) };
}

/** The tables to act on: the given names, or every table in the `tables` option. */
/** The most tables one call names (a longer list is a mistake, and reading it would take long). */
const MAX_TARGETS = 10_000;

export function resolveTargets(
  tables: Map<string, ConfiguredTable>,
  names: readonly string[] | undefined,
  where: string,
): ConfiguredTable[] {
  if (names === undefined) {
    if (tables.size === 0) {
      throw new ThreadlineError(
        'CONFIG_INVALID',
        `${where}: no tables given and none configured; pass { tables: ["posts"] } or configure tables`,
      );
    }
    return [...tables.values()];
  }
  if (!Array.isArray(names) || names.length === 0) {
    throw new ThreadlineError('CONFIG_INVALID', `${where}: tables must be a non-empty array of table names`);
  }
  if (names.length > MAX_TARGETS) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${where}: tables lists ${names.length} names; at most ${MAX_TARGETS.toLocaleString('en-US')} in one call`,
    );
  }
  const seen = new Set<string>();
  // Index by index, so that a hole in a sparse array is a name that is missing, not skipped.
  return Array.from({ length: names.length }, (_, i) => names[i]).map((name, i) => {
    if (typeof name !== 'string')
      throw new ThreadlineError(
        'CONFIG_INVALID',
        `${where}: tables[${i}] must be a table name like "posts" or "billing.invoices", got ${name === null ? 'null' : typeof name}`,
      );
    const table = parseTableName(name);
    const key = tableKey(table);
    if (seen.has(key))
      throw new ThreadlineError(
        'CONFIG_INVALID',
        `${where}: ${formatTableName(table)} is listed more than once`,
      );
    seen.add(key);
    return tables.get(key) ?? { table, options: resolveTableOptions(formatTableName(table), {}) };
  });
}

/**
 * Install or replace capture triggers, in one transaction (all tables or none). Rerunning is
 * safe: functions and triggers are replaced in place, with no gap in capture.
 */
export async function installTriggers(
  ctx: TriggerContext,
  input: TriggerOptions = {},
): Promise<CapturePlan[]> {
  const options = triggerOptions(input, 'installTriggers');
  const targets = resolveTargets(ctx.tables, options.tables, 'installTriggers');
  await ctx.assertInstalled('installTriggers');
  const started = performance.now();
  try {
    const installed = await ctx.client.transaction(async (session) => {
      const plans: CapturePlan[] = [];
      for (const [index, { table, options: opts }] of targets.entries()) {
        options.onTable?.(table, index, targets.length);
        const { rows } = await session.query<{ plan: RawPlan }>(
          `SELECT ${ctx.q}.enable_capture($1, $2, $3::jsonb) AS plan`,
          [table.schema, table.name, JSON.stringify(opts)],
        );
        plans.push(toPlan(rows[0]!.plan));
      }
      return plans;
    });
    publish(TELEMETRY_CHANNELS.triggersInstalled, () => ({
      tables: installed.map((p) => formatTableName(p.table)),
      count: installed.length,
      durationMs: performance.now() - started,
    }));
    return installed;
  } catch (error) {
    rethrowCallerError(error);
    throw toThreadlineError(error, 'installTriggers');
  }
}

/** What installTriggers would do, including the generated SQL. Changes nothing (rolled back). */
export async function planTriggers(ctx: TriggerContext, input: TriggerOptions = {}): Promise<CapturePlan[]> {
  const options = triggerOptions(input, 'planTriggers');
  const targets = resolveTargets(ctx.tables, options.tables, 'planTriggers');
  const installed =
    (await ctx.installedVersion().catch((e) => Promise.reject(toThreadlineError(e, 'planTriggers')))) ===
    SCHEMA_VERSION;
  const rollback = Symbol('rollback');
  let plans: CapturePlan[] = [];
  try {
    await ctx.client.transaction(async (session) => {
      if (!installed) await session.exec(installScript(ctx.schema));
      for (const [index, { table, options: opts }] of targets.entries()) {
        options.onTable?.(table, index, targets.length);
        const { rows } = await session.query<{ plan: RawPlan }>(
          `SELECT ${ctx.q}.capture_plan($1, $2, $3::jsonb) AS plan`,
          [table.schema, table.name, JSON.stringify(opts)],
        );
        plans.push(toPlan(rows[0]!.plan, true));
      }
      throw rollback;
    });
  } catch (error) {
    if (error !== rollback) {
      plans = [];
      rethrowCallerError(error);
      throw toThreadlineError(error, 'planTriggers');
    }
  }
  return plans;
}

/** Remove capture from tables (captured audit rows are kept). */
export async function removeTriggers(
  ctx: TriggerContext,
  input: { tables: readonly string[] },
): Promise<TableName[]> {
  const targets = resolveTargets(
    ctx.tables,
    triggerOptions(input, 'removeTriggers').tables,
    'removeTriggers',
  );
  await ctx.assertInstalled('removeTriggers');
  const started = performance.now();
  const removed = await ctx.client
    .transaction(async (session) => {
      const removed: TableName[] = [];
      for (const { table } of targets) {
        const { rows } = await session.query<{ ok: boolean }>(
          `SELECT ${ctx.q}.disable_capture($1, $2) AS ok`,
          [table.schema, table.name],
        );
        if (rows[0]?.ok) removed.push(table);
      }
      return removed;
    })
    .catch((error) => Promise.reject(toThreadlineError(error, 'removeTriggers')));
  publish(TELEMETRY_CHANNELS.triggersRemoved, () => ({
    tables: removed.map(formatTableName),
    count: removed.length,
    durationMs: performance.now() - started,
  }));
  return removed;
}

/** A plan as the database function returns it: the table as two fields, plus bookkeeping. */
type RawPlan = Omit<CapturePlan, 'table'> & { schema: string; name: string };

function toPlan(raw: RawPlan, withSql = false): CapturePlan {
  const {
    schema,
    name,
    functionSql,
    mode,
    functionName,
    relations,
    keyColumns,
    keySource,
    options,
    warnings,
  } = raw;
  const plan: CapturePlan = {
    table: { schema, name },
    mode,
    functionName,
    relations,
    keyColumns,
    keySource,
    options,
    warnings: warnings ?? [],
  };
  if (withSql && functionSql) plan.functionSql = functionSql;
  return plan;
}
