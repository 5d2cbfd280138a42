import { callerCallback, rethrowCallerError } from '../caller-callback.js';
import { ActorRef } from '../context/actor-ref.js';
import { getAuditContext, runWithAuditContext } from '../context/context.js';
import { toThreadlineError } from '../db/db-errors.js';
import type { SqlSession } from '../db/sql-client.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { checkKeys, parseFlag } from '../query/validate.js';
import type { Threadline } from '../threadline.js';
import { parseRawObject } from './raw-json.js';
import {
  deleteMany,
  insertMany,
  lockAndCompare,
  lockAndCompareEach,
  updateMany,
  updateManyByKey,
} from './statements.js';
import type { TableMeta } from './tables.js';
import type { RevertApplyOptions, RevertApplyResult, RevertPlan, RevertStep } from './types.js';

const DEFAULT_BATCH = 1000;

/** How many rows one lock-and-compare statement reads (the re-check is not split by batchSize). */
const CHECK_CHUNK = 10_000;

/** Consecutive steps of one table and op with the same columns: one set-based statement per batch. */
interface Group {
  meta: TableMeta;
  op: RevertStep['op'];
  columns: string[];
  steps: RevertStep[];
}

function metaOf(step: RevertStep, keyColumns: string[]): TableMeta {
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return {
    schema: step.tableSchema,
    name: step.tableName,
    label: step.table,
    ref: `${q(step.tableSchema)}.${q(step.tableName)}`,
    keyColumns,
    columns: [],
    types: new Map(),
    writable: [],
    exclude: [],
    mask: [],
    ignored: [],
    selfReferencing: false,
    relid: step.relid,
  };
}

/**
 * Group the steps by table, op and column list. Steps with the same statement text write the
 * same columns of the same table (plan.ts shares one text per table, op and columns), so the
 * column list is read from the first step of each group only.
 */
function groupSteps(steps: RevertStep[]): Group[] {
  const groups: Group[] = [];
  const index = new Map<string, Group>();
  let prev: RevertStep | undefined;
  let group: Group | undefined;
  for (const step of steps) {
    if (
      prev === undefined ||
      step.tableSchema !== prev.tableSchema ||
      step.tableName !== prev.tableName ||
      step.op !== prev.op
    )
      index.clear();
    else if (step.sql === prev.sql) {
      group!.steps.push(step); // the bulk case: same group as the step before
      prev = step;
      continue;
    }
    prev = step;
    group = index.get(step.sql);
    if (!group) {
      const columns = step.op === 'delete' ? [] : [...parseRawObject(step.data)!.keys()];
      group = { meta: metaOf(step, Object.keys(step.pk)), op: step.op, columns, steps: [] };
      index.set(step.sql, group);
      groups.push(group);
    }
    group.steps.push(step);
  }
  return groups;
}

/** The plan's steps as groups, each with its table's re-check columns and self-reference. */
async function prepare(
  plan: RevertPlan,
  tableMeta: (schema: string, name: string) => Promise<TableMeta>,
): Promise<Group[]> {
  const groups = groupSteps(plan.steps);
  // Per table: the columns a re-check ignores (excluded, masked, exceptColumns), whether it
  // references itself (then each op is one statement: the key is checked at its end) and the
  // column types the statements read the stored jsonb with.
  const tables = new Map<string, Promise<TableMeta>>();
  for (const g of groups) {
    const id = `${g.meta.schema}\u0000${g.meta.name}`;
    if (!tables.has(id)) tables.set(id, tableMeta(g.meta.schema, g.meta.name));
    const meta = await tables.get(id)!;
    g.meta.ignored = meta.ignored;
    g.meta.selfReferencing = meta.selfReferencing;
    g.meta.columns = meta.columns;
    g.meta.types = meta.types;
  }
  return groups;
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function refuse(plan: RevertPlan, force: boolean): void {
  const blocking = plan.conflicts.filter((c) => c.kind !== 'changed_since');
  if (blocking.length > 0)
    throw new ThreadlineError(
      'REVERT_REFUSED',
      `revert.apply: ${blocking.length} conflict(s) no option can override: ${blocking
        .slice(0, 5)
        .map((c) => c.detail)
        .join('; ')}${blocking.length > 5 ? '; …' : ''}`,
      { details: { conflicts: blocking.length } },
    );
  const changed = plan.conflicts.filter((c) => c.kind === 'changed_since');
  if (changed.length > 0 && !force)
    throw new ThreadlineError(
      'REVERT_CONFLICT',
      `revert.apply: ${changed.length} row(s) changed again after the reverted change: ${changed
        .slice(0, 5)
        .map((c) => c.detail)
        .join('; ')}${changed.length > 5 ? '; …' : ''}. Pass { force: true } to overwrite those changes`,
      { details: { conflicts: changed.length } },
    );
}

/**
 * Session settings apply runs under, so a row reads as capture stored it (capture-generator.ts
 * renders under the same ones) and stored text is read back as the value it was written from.
 */
const FIXED: [string, string][] = [
  ['TimeZone', 'UTC'],
  ['IntervalStyle', 'postgres'],
  ['DateStyle', 'ISO, MDY'],
  ['extra_float_digits', '1'],
  ['bytea_output', 'hex'],
  ['lc_monetary', 'C'],
];

/** Set FIXED for the transaction; the returned function puts the caller's settings back. */
async function fixSettings(tx: SqlSession): Promise<() => Promise<void>> {
  const [{ old }] = (
    await tx.query<{ old: string[] }>(
      `SELECT ARRAY[${FIXED.map(([n]) => `current_setting('${n}')`).join(', ')}] AS old, ${FIXED.map(([n, v]) => `set_config('${n}', '${v}', true)`).join(', ')}`,
    )
  ).rows as [{ old: string[] }];
  return async () => {
    await tx.query(`SELECT ${FIXED.map(([n], i) => `set_config('${n}', $${i + 1}, true)`).join(', ')}`, old);
  };
}

/**
 * Each group's table name still names the relation the plan was made for. A plan addresses a table
 * by name; after a rename or a name swap since the plan, the name may stand for another table,
 * whose rows the plan's statements would overwrite. Run before the re-check (a clear refusal) and
 * after it (the re-check holds a lock on every table, so no rename can come in between any more).
 */
async function checkTables(tx: SqlSession, groups: Group[]): Promise<void> {
  const seen = new Set<string>();
  for (const g of groups) {
    if (seen.has(g.meta.relid)) continue;
    seen.add(g.meta.relid);
    const { rows } = await tx.query<{ relid: string | null }>(
      `SELECT to_regclass(format('%I.%I', $1::text, $2::text))::oid::text AS relid`,
      [g.meta.schema, g.meta.name],
    );
    if (rows[0]?.relid !== g.meta.relid)
      throw new ThreadlineError(
        'REVERT_CONFLICT',
        `revert.apply: ${g.meta.label} ${rows[0]?.relid ? 'is another table now' : 'no longer exists'}: the table was renamed (or dropped) since the plan, so nothing was changed; plan again`,
      );
  }
}

/** Lock every row the plan writes and check it still is as the plan expects: one statement per group. */
async function recheck(tx: SqlSession, groups: Group[]): Promise<string[]> {
  const problems: string[] = [];
  // Keys an earlier step deletes or moves away from (key-order.ts): the row there now is that
  // step's, compared by its own check, so an insert at the key does not need it absent.
  const freed = new Set<string>();
  for (const g of groups) {
    const insert = g.op === 'insert';
    // lockAndCompare's WITH ORDINALITY column would clash with a table column of that name.
    const sql = g.meta.columns.includes('ordinality') ? lockAndCompareEach(g.meta) : lockAndCompare(g.meta);
    const table = `${g.meta.schema}\u0000${g.meta.name}\u0000`;
    const steps = insert && freed.size > 0 ? g.steps.filter((s) => !freed.has(table + s.key)) : g.steps;
    if (g.op === 'delete' || (g.op === 'update' && g.columns.some((c) => g.meta.keyColumns.includes(c))))
      for (const s of g.steps) freed.add(table + s.key);
    for (const chunk of chunks(steps, CHECK_CHUNK)) {
      const keys = `[${chunk.map((s) => s.key).join(',')}]`;
      const expected = insert ? keys : `[${chunk.map((s) => s.expect ?? 'null').join(',')}]`;
      const { rows } = await tx.query<{ i: number; found: boolean }>(sql, [
        keys,
        expected,
        g.meta.ignored,
        insert,
      ]);
      for (const r of rows) {
        const s = chunk[Number(r.i) - 1]!;
        problems.push(
          insert
            ? `${s.table} ${s.key} exists again, so it cannot be inserted back`
            : r.found
              ? `${s.table} ${s.key} changed since the plan was made`
              : `${s.table} ${s.key} no longer exists`,
        );
      }
    }
  }
  return problems;
}

async function execute(
  tx: SqlSession,
  g: Group,
  batchSize: number,
  onBatch: (n: number) => void,
): Promise<void> {
  for (const batch of chunks(g.steps, g.meta.selfReferencing ? g.steps.length : batchSize)) {
    let sql: string;
    let payload: string;
    if (g.op === 'delete') {
      sql = deleteMany(g.meta);
      payload = `[${batch.map((s) => s.key).join(',')}]`;
    } else if (g.op === 'insert') {
      sql = insertMany(g.meta, g.columns);
      payload = `[${batch.map((s) => s.data).join(',')}]`;
    } else if (g.columns.length > 0 && !g.columns.some((c) => g.meta.keyColumns.includes(c))) {
      // The key is not set: each row is its old values and its key in one object (the two are
      // exact JSON object texts with no column in common), read by one recordset call.
      sql = updateManyByKey(g.meta, g.columns);
      payload = `[${batch.map((s) => `${s.data!.slice(0, -1)},${s.key.slice(1)}`).join(',')}]`;
    } else {
      sql = updateMany(g.meta, g.columns);
      payload = `[${batch.map((s) => `{"s":${s.data},"k":${s.key}}`).join(',')}]`;
    }
    const result = await tx.query(sql, [payload]);
    if (result.rowCount !== batch.length)
      throw new ThreadlineError(
        'REVERT_CONFLICT',
        `revert.apply: ${g.op} on ${g.meta.label} touched ${result.rowCount} row(s) instead of ${batch.length}; nothing was changed. Plan again`,
      );
    onBatch(batch.length);
  }
}

/** Run a plan in one transaction, attributed to the caller, with a linked threadline.revert action. */
export async function applyRevert(
  tl: Threadline,
  given: RevertPlan,
  input: RevertApplyOptions | undefined,
  tableMeta: (schema: string, name: string) => Promise<TableMeta>,
  /** Null: the plan is one tl.revert.plan() returned (frozen); else plan it again and require the same. */
  replan: ((tx: SqlSession) => Promise<RevertPlan>) | null,
): Promise<RevertApplyResult> {
  const options = checkKeys(
    input,
    ['force', 'actor', 'reason', 'batchSize', 'onProgress'],
    'revert.apply options',
    true,
  ) as RevertApplyOptions;
  if (
    typeof given !== 'object' ||
    given === null ||
    !Array.isArray(given.steps) ||
    !Array.isArray(given.conflicts) ||
    typeof given.summary !== 'object' ||
    given.summary === null
  )
    throw new ThreadlineError('QUERY_INVALID', 'revert.apply: pass the plan tl.revert.plan() returned');
  const force = parseFlag(options.force, 'force', 'revert.apply') ?? false;
  refuse(given, force);
  const ctx = getAuditContext();
  const actor = options.actor ? ActorRef.parse(options.actor) : ctx?.actor;
  if (!actor)
    throw new ThreadlineError(
      'INVALID_ACTOR',
      'revert.apply: no actor; pass { actor: ActorRef.user(id) } or call it inside an audit context that has one (a revert is always attributed)',
    );
  const batchSize = options.batchSize ?? DEFAULT_BATCH;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new ThreadlineError('QUERY_INVALID', 'revert.apply: batchSize must be a positive integer');
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function')
    throw new ThreadlineError('QUERY_INVALID', 'revert.apply: onProgress must be a function');
  const onProgress = callerCallback(options.onProgress);
  const progress = new Map<string, number>();
  const context = {
    ...(ctx ?? {}),
    actor,
    source: 'threadline:revert',
    causationId: String(given.causationId),
    meta: { revert: given.summary.target },
  };
  try {
    const out = await runWithAuditContext(context, () =>
      tl.transaction(async (tx) => {
        // What runs is always a plan made from the audit trail: the given one when this process
        // made it, else the same plan made again (a plan edited or made stale is refused).
        const plan = replan ? await replan(tx) : given;
        const groups = await prepare(plan, tableMeta);
        const totals = new Map<string, number>();
        for (const g of groups)
          totals.set(
            `${g.meta.label}\u0000${g.op}`,
            (totals.get(`${g.meta.label}\u0000${g.op}`) ?? 0) + g.steps.length,
          );
        const restore = await fixSettings(tx);
        await checkTables(tx, groups);
        const problems = await recheck(tx, groups);
        await checkTables(tx, groups);
        if (problems.length > 0)
          throw new ThreadlineError(
            'REVERT_CONFLICT',
            `revert.apply: ${problems.length} row(s) no longer match the plan, so nothing was changed: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}. Plan again (and apply with force to overwrite rows changed since)`,
            { details: { conflicts: problems.length } },
          );
        let applied = 0;
        for (const g of groups) {
          const key = `${g.meta.label}\u0000${g.op}`;
          await execute(tx, g, batchSize, (n) => {
            applied += n;
            progress.set(key, (progress.get(key) ?? 0) + n);
            onProgress?.({
              table: g.meta.label,
              op: g.op,
              done: progress.get(key)!,
              total: totals.get(key)!,
            });
          });
        }
        await restore();
        const action = await tl.recordAction('threadline.revert', {
          actor,
          category: 'revert',
          verb: 'revert',
          comment: plan.summary.text.slice(0, 10_000),
          ...(options.reason !== undefined ? { reason: options.reason } : {}),
        });
        return { applied, actionId: action.id };
      }),
    );
    return {
      auditTransactionId: out.auditTransactionId,
      applied: out.result.applied,
      actionId: out.result.actionId,
    };
  } catch (error) {
    rethrowCallerError(error);
    if (isThreadlineError(error)) throw error;
    const code = (error as { code?: string } | null)?.code;
    if (code === '23505' || code === '23503' || code === '40001' || code === '40P01')
      throw new ThreadlineError(
        'REVERT_CONFLICT',
        `revert.apply: the database refused a compensating statement (${(error as Error).message}); nothing was changed. Plan again`,
        { cause: error },
      );
    throw toThreadlineError(error, 'revert.apply');
  }
}
