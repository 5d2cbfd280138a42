import {
  formatTableName,
  parseTableName,
  qualifiedTable,
  quoteIdent,
  type TableName,
} from '../capture/identifiers.js';
import { ActorRef } from '../context/actor-ref.js';
import { contextBinding } from '../context/binding.js';
import { getAuditContext } from '../context/context.js';
import type { OperationsContext } from '../context/operations-context.js';
import { COLUMN_TYPE_SQL } from '../db/column-type-sql.js';
import { toThreadlineError } from '../db/db-errors.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { shellWord } from '../health/fixes.js';
import { keyCondition, tableScope } from '../query/table-scope.js';
import { checkKeys } from '../query/validate.js';
import { TELEMETRY_CHANNELS } from '../telemetry/channels.js';
import { publish } from '../telemetry/publish.js';
import { keyFromImageSql, UTC_SQL } from './key-sql.js';
import { type CapturedTable, capturedTables } from './registry.js';
import type { BaselineOptions, BaselineResult } from './types.js';

export const BASELINE_SOURCE = 'threadline:baseline';
const DEFAULT_BATCH = 1000;
const MAX_BATCH = 100_000;

/** The SQL of one batch: lock the next rows by key, record those without history, return counts. */
function batchSql(ctx: OperationsContext, reg: CapturedTable, keyTypes: Map<string, string>): string {
  const t = qualifiedTable(reg);
  const keys = reg.keyColumns.map(quoteIdent);
  const typed = keys.map((k, i) => `t.${k} AS threadline_k${i}`).join(', ');
  return `WITH batch AS MATERIALIZED (
      SELECT to_jsonb(t) AS j, ${typed} FROM ${t} AS t
       WHERE $1::jsonb IS NULL OR (${keys.map((k) => `t.${k}`).join(', ')}) >
             (SELECT ${keys.map((k) => `r.${k}`).join(', ')} FROM jsonb_to_record($1::jsonb) AS r(${reg.keyColumns
               .map((k) => `${quoteIdent(k)} ${keyTypes.get(k) ?? 'text'}`)
               .join(', ')}))
       ORDER BY ${keys.map((k) => `t.${k}`).join(', ')} LIMIT $2 FOR SHARE OF t),
    keyed AS (SELECT b.j, ${keyFromImageSql('b.j', reg.keyColumns)} AS pk FROM batch b),
    ins AS (
      INSERT INTO ${ctx.q}.audit_changes (transaction_id, table_schema, table_name, table_id, key_hash, op, table_pk, data_after, captured_at)
      SELECT (SELECT ${ctx.q}.current_transaction_id()), $3, $4,
             (SELECT ct.table_id FROM ${ctx.q}.captured_tables ct WHERE ct.table_schema = $3 AND ct.table_name = $4),
             jsonb_hash_extended(k.pk, 0), 'baseline', k.pk, (k.j - $5::text[]) || $6::jsonb, clock_timestamp()
        FROM keyed k
       WHERE NOT EXISTS (SELECT 1 FROM ${ctx.q}.audit_changes c WHERE ${keyCondition(tableScope(ctx.q, '$3::text', '$4::text'), 'k.pk')})
      RETURNING 1)
    SELECT (SELECT count(*) FROM batch)::int AS scanned, (SELECT count(*) FROM ins)::int AS recorded,
           (SELECT ${keyFromImageSql('b.j', reg.keyColumns)} FROM batch b
             ORDER BY ${reg.keyColumns.map((_, i) => `b.threadline_k${i} DESC`).join(', ')} LIMIT 1)::text AS last`;
}

/**
 * Record the current rows of one captured table as `op = 'baseline'` changes, in batches (one
 * transaction each, source `threadline:baseline`, the running actor). Rows that already have
 * history or a baseline are skipped, so it is resumable and running it again records nothing new.
 */
export async function recordBaseline(
  ctx: OperationsContext,
  input: BaselineOptions,
): Promise<BaselineResult> {
  const what = 'continuity.baseline';
  if (typeof input !== 'object' || input === null)
    throw new ThreadlineError('QUERY_INVALID', `${what}: pass { table: "posts" }`);
  const options = checkKeys(
    input,
    ['table', 'batchSize', 'actor', 'onProgress'],
    `${what} options`,
  ) as unknown as BaselineOptions;
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function')
    throw new ThreadlineError('QUERY_INVALID', `${what}: onProgress must be a function`);
  const table = namedTable(options.table, what);
  const label = formatTableName(table);
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > MAX_BATCH)
    throw new ThreadlineError(
      'QUERY_INVALID',
      `${what}: batchSize must be an integer from 1 to ${MAX_BATCH}`,
    );
  const current = getAuditContext();
  const actor = options.actor ? ActorRef.parse(options.actor) : current?.actor;
  if (!actor)
    throw new ThreadlineError(
      'INVALID_ACTOR',
      `${what}: no actor; pass { actor: ActorRef.system("ops") } or run it inside an audit context that has one`,
    );
  await ctx.assertInstalled(what);
  await assertBaselineAllowed(ctx, what);
  const [reg] = await capturedTables(ctx, [table], what);
  if (!reg)
    throw new ThreadlineError(
      'NOT_FOUND',
      `${what}: ${label} is not captured; install capture first (threadline gen-triggers --tables ${shellWord(label)} --apply), then record the baseline`,
    );
  if (reg.keyColumns.length === 0)
    throw new ThreadlineError(
      'CAPTURE_REFUSED',
      `${what}: ${label} is captured without a key, so a baseline could not be matched to later changes; give the table a primary key and run threadline gen-triggers`,
    );
  const binding = contextBinding({ ...current, actor, source: BASELINE_SOURCE })!;
  const startedAt = new Date();
  const started = performance.now();
  // The cursor's key columns are read with their own types and only them: a record of the whole
  // table type would read every other column as NULL, which a NOT NULL domain refuses.
  let keyTypes: Map<string, string>;
  try {
    const { rows } = await ctx.client.query<{ n: string; t: string }>(
      `SELECT a.attname AS n, ${COLUMN_TYPE_SQL} AS t
         FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid JOIN pg_namespace ns ON ns.oid = ty.typnamespace
        WHERE a.attrelid = to_regclass($1) AND a.attname = ANY($2::text[]) AND a.attnum > 0 AND NOT a.attisdropped`,
      [qualifiedTable(reg), reg.keyColumns],
    );
    keyTypes = new Map(rows.map((r) => [r.n, r.t]));
  } catch (error) {
    throw toThreadlineError(error, what);
  }
  const sql = batchSql(ctx, reg, keyTypes);
  const exclude = reg.options.exclude ?? [];
  const mask = Object.fromEntries(
    (reg.options.mask ?? []).map((m) => [m, reg.options.maskPlaceholder ?? '[REDACTED]']),
  );
  let total = 0;
  try {
    const { rows } = await ctx.client.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${qualifiedTable(table)}`,
    );
    total = Number(rows[0]?.n ?? 0);
  } catch (error) {
    throw toThreadlineError(error, what);
  }
  // The last key as jsonb text, passed back verbatim: a JavaScript number would round keys
  // beyond 2^53 (or long numerics) and re-read or skip rows.
  let last: string | null = null;
  let batches = 0;
  let scanned = 0;
  let recorded = 0;
  for (;;) {
    let result: { scanned: number; recorded: number; last: string | null };
    try {
      result = await ctx.client.transaction(
        async (s) => {
          await s.exec(UTC_SQL);
          const { rows } = await s.query<{ scanned: number; recorded: number; last: string | null }>(sql, [
            last,
            batchSize,
            table.schema,
            table.name,
            exclude,
            JSON.stringify(mask),
          ]);
          return rows[0]!;
        },
        { start: binding },
      );
    } catch (error) {
      throw toThreadlineError(error, what);
    }
    if (result.scanned === 0) break;
    batches += 1;
    scanned += result.scanned;
    recorded += result.recorded;
    last = result.last;
    publish(TELEMETRY_CHANNELS.baselineBatch, () => ({
      table: label,
      batch: batches,
      scanned: result.scanned,
      recorded: result.recorded,
    }));
    options.onProgress?.({ table: label, batch: batches, scanned, recorded, total });
    if (result.scanned < batchSize) break;
  }
  publish(TELEMETRY_CHANNELS.baselineCompleted, () => ({
    table: label,
    batches,
    scanned,
    recorded,
    durationMs: performance.now() - started,
  }));
  return {
    table: label,
    batches,
    scanned,
    recorded,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
  };
}

/** Installs older than the baseline feature refuse op = 'baseline'; say so before writing. */
async function assertBaselineAllowed(ctx: OperationsContext, what: string): Promise<void> {
  try {
    const { rows } = await ctx.client.query<{ ok: boolean }>(
      `SELECT NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(format('%I.audit_changes', $1::text))
          AND conname = 'audit_changes_op_check' AND pg_get_constraintdef(oid) NOT LIKE '%baseline%') AS ok`,
      [ctx.schema],
    );
    if (rows[0]?.ok) return;
  } catch (error) {
    throw toThreadlineError(error, what);
  }
  throw new ThreadlineError(
    'NOT_INSTALLED',
    `${what}: the storage schema "${ctx.schema}" predates baselines; run tl.install() or \`threadline install --apply\` to upgrade it (idempotent)`,
  );
}

/** The table to baseline; a bad name is refused naming continuity.baseline. */
function namedTable(value: unknown, what: string): TableName {
  try {
    return parseTableName(value as string);
  } catch (error) {
    if (!isThreadlineError(error)) throw error;
    throw new ThreadlineError(error.code, `${what}: ${error.message}`, { cause: error });
  }
}
