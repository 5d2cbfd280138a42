import { callerCallback } from '../caller-callback.js';
import { quoteIdent } from '../capture/identifiers.js';
import { queryReadCommitted } from '../db/read-committed.js';
import type { SqlClient } from '../db/sql-client.js';
import { checkKeys, invalid } from '../query/validate.js';

export interface MaintainProgress {
  /** What happened: a partition created ahead, or rows moved out of the default partition. */
  step: 'converted' | 'created' | 'moved' | 'keyed';
  partition: string | null;
  /** Rows moved by this step. */
  rows: number;
  /** Rows still in the default partition after this step. */
  remaining: number | null;
}

export interface MaintainOptions {
  onProgress?: (progress: MaintainProgress) => void;
}

export interface MaintainResult {
  /** True when an unpartitioned audit_changes was converted to the partitioned layout. */
  converted: boolean;
  /** Partitions created (ahead of time, or to take rows out of the default partition). */
  created: { name: string; from: string; to: string; movedRows: number }[];
  /** Rows moved out of the default partition. */
  movedRows: number;
  /** Rows left in the default partition (0 unless a move was skipped). */
  defaultPartitionRows: number;
  /** Rows written before table ids (schema version 7) given their table id and key hash. */
  keyedRows: number;
  /** Hours newly counted into the activity rollup (tl.activity's fast path, query/activity-ddl.ts). */
  activityHours: number;
}

/** Rows keyed per transaction (storage_key_batch): short transactions, little WAL each. */
const KEY_BATCH = 10_000;

interface Made {
  name: string;
  from: string;
  to: string;
  moved?: number;
  skipped?: boolean;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `threadline storage maintain`: convert an unpartitioned audit_changes when the setting asks for
 * partitions, create the partitions ahead, move every row out of the default partition into its
 * range partition (one transaction per partition; a row is never outside the table), then count
 * the hours that ended since the last run into the activity rollup.
 */
export async function maintainStorage(
  client: SqlClient,
  schema: string,
  input: MaintainOptions = {},
): Promise<MaintainResult> {
  const options = checkKeys(input, ['onProgress'], 'storage.maintain options') as MaintainOptions;
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function')
    throw invalid('storage.maintain: onProgress must be a function');
  const onProgress = callerCallback(options.onProgress);
  const result = await maintainPartitions(client, schema, { onProgress });
  // After the moves: the rollup counts whole hours that have ended (activity-ddl.ts).
  const { rows } = await queryReadCommitted<{ n: number }>(
    client,
    `SELECT ${quoteIdent(schema)}.activity_refresh() AS n`,
  );
  result.activityHours = Number(rows[0]!.n);
  return result;
}

async function maintainPartitions(
  client: SqlClient,
  schema: string,
  options: MaintainOptions,
): Promise<MaintainResult> {
  const q = quoteIdent(schema);
  const result: MaintainResult = {
    converted: false,
    created: [],
    movedRows: 0,
    defaultPartitionRows: 0,
    keyedRows: 0,
    activityHours: 0,
  };
  const note = (made: Made | null, step: MaintainProgress['step'], remaining: number | null) => {
    if (!made || made.skipped) return;
    const movedRows = Number(made.moved ?? 0);
    result.created.push({ name: made.name, from: iso(made.from), to: iso(made.to), movedRows });
    result.movedRows += movedRows;
    options.onProgress?.({ step, partition: made.name, rows: movedRows, remaining });
  };
  const { rows: conv } = await queryReadCommitted<{ r: { converted: boolean; rowEstimate?: number } }>(
    client,
    `SELECT ${q}.storage_convert() AS r`,
  );
  if (conv[0]!.r.converted) {
    result.converted = true;
    options.onProgress?.({
      step: 'converted',
      partition: null,
      rows: 0,
      remaining: conv[0]!.r.rowEstimate ?? null,
    });
    // The current period's partition starts just ahead of now, so creating it moves nothing and
    // captures leave the old table; wait until they do, so the moves below never make them wait.
    const { rows: made } = await queryReadCommitted<{ r: Made | null; wait: number }>(
      client,
      `SELECT ${q}.storage_create_partition(t, false, t) AS r, extract(epoch FROM t - clock_timestamp()) * 1000 AS wait
         FROM (SELECT date_trunc('second', clock_timestamp()) + interval '2 seconds' AS t) x`,
    );
    note(made[0]!.r, 'created', null);
    await sleep(Math.max(0, Number(made[0]!.wait)) + 50);
  }
  const { rows: ahead } = await queryReadCommitted<{ r: Made[] }>(
    client,
    `SELECT ${q}.storage_ensure(true) AS r`,
  );
  for (const made of ahead[0]!.r) note(made, made.moved ? 'moved' : 'created', null);
  await keyRows(client, q, result, options);
  const def = await defaultTable(client, schema);
  if (def === null) return result;
  const { rows: initial } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${def}`);
  let remaining = Number(initial[0]!.n);
  // Stragglers: newest first, one partition (one transaction) per step.
  while (remaining > 0) {
    // As PostgreSQL's own text (read back exactly, years beyond 9999 and BC included). A hand-edited
    // 'infinity' / '-infinity' fits no partition: it stays in the default (defaultPartitionRows).
    const { rows } = await client.query<{ at: string | null }>(
      `SELECT captured_at::text AS at FROM ${def} WHERE isfinite(captured_at) ORDER BY captured_at DESC LIMIT 1`,
    );
    const at = rows[0]?.at;
    if (!at) break;
    const { rows: made } = await queryReadCommitted<{ r: Made | null }>(
      client,
      `SELECT ${q}.storage_create_partition($1::timestamptz, true) AS r`,
      [at],
    );
    const r = made[0]!.r;
    if (!r?.moved) break; // nothing could be moved (cannot happen; never loop forever)
    remaining = Math.max(0, remaining - Number(r.moved));
    note(r, 'moved', remaining);
  }
  const { rows: left } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${def}`);
  result.defaultPartitionRows = Number(left[0]!.n);
  return result;
}

/** Give rows written before table ids their table id and key hash, a batch per transaction. */
async function keyRows(client: SqlClient, q: string, result: MaintainResult, options: MaintainOptions) {
  const { rows: pending } = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${q}.audit_changes WHERE table_id IS NULL`,
  );
  let remaining = Number(pending[0]!.n);
  while (remaining > 0) {
    const { rows } = await queryReadCommitted<{ n: number }>(
      client,
      `SELECT ${q}.storage_key_batch($1) AS n`,
      [KEY_BATCH],
    );
    const n = Number(rows[0]!.n);
    if (n === 0) break;
    remaining = Math.max(0, remaining - n);
    result.keyedRows += n;
    options.onProgress?.({ step: 'keyed', partition: null, rows: n, remaining });
  }
  // The legacy indexes go once no unkeyed row is left (storage/legacy-indexes.ts); when the lock
  // is not free within its short timeout they are left for the next run.
  await queryReadCommitted(client, `SELECT ${q}.storage_legacy_drop()`);
  // Rollup rows counted before their changes were keyed carry no table id: forget them, so the
  // activity refresh that follows recounts those hours from the keyed changes (activity-ddl.ts).
  if (result.keyedRows > 0)
    await client.query(
      `SELECT ${q}.activity_forget('-infinity', (SELECT max(captured_at) FROM ${q}.activity_rollup WHERE table_id IS NULL))`,
    );
}

async function defaultTable(client: SqlClient, schema: string): Promise<string | null> {
  const { rows } = await client.query<{ name: string }>(
    `SELECT name FROM ${quoteIdent(schema)}.storage_partitions() WHERE is_default`,
  );
  return rows[0] ? `${quoteIdent(schema)}.${quoteIdent(rows[0].name)}` : null;
}

function iso(v: unknown): string {
  return new Date(v as string).toISOString();
}
