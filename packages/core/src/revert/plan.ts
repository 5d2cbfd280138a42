import { formatTableName } from '../capture/identifiers.js';
import { parseExactJson } from '../query/exact-json.js';
import { cascadedSteps } from './cascade.js';
import { type LaterChange, laterChanges, notStoredConflict } from './conflicts.js';
import { rowConflicts, takenKeys } from './held.js';
import { keyBack, keyFreeingFirst, keyOf } from './key-order.js';
import { loadTarget, type Run } from './load.js';
import { type NetStep, netSteps } from './net.js';
import { foreignKeys, orderTables } from './order.js';
import { parseRawObject } from './raw-json.js';
import { resolveTable } from './resolve.js';
import { type SetSteps, setSteps } from './set-steps.js';
import { deleteOne, insertOne, updateOne } from './statements.js';
import { stepObject } from './step-object.js';
import { changesById, type StoredChange } from './stored-changes.js';
import { loadTableMeta, type TableMeta } from './tables.js';
import type {
  RevertConflict,
  RevertConflictKind,
  RevertPlan,
  RevertStep,
  RevertStepOp,
  RevertSummary,
  RevertTarget,
} from './types.js';

const tableId = (schema: string, name: string) => JSON.stringify([schema, name]);

/**
 * The table the changes recorded under schema.name belong to now, found by table id (resolve.ts):
 * statements write to it under its current name; the recorded name selects the changes.
 */
async function currentMeta(
  run: Run,
  q: string,
  schema: string,
  name: string,
  sampleKey: string,
  transactions: string[],
): Promise<TableMeta> {
  const table = await resolveTable(run, q, schema, name, transactions);
  const meta = await loadTableMeta(run, q, table.schema, table.name, sampleKey);
  if (table.schema !== schema || table.name !== name) meta.recorded = table.recorded;
  if (table.id !== null) meta.tableId = table.id;
  return meta;
}

/** Statement text per table, op and column list: built once, shared by every step that uses it. */
class StatementCache {
  private readonly cache = new Map<TableMeta, Map<string, string>>();
  // The bulk case asks for the same statement 10,000 times in a row (set-steps.ts shares one
  // column array between rows with the same columns).
  private last: { meta: TableMeta; op: RevertStepOp; columns: string[]; sql: string } | null = null;
  get(meta: TableMeta, op: RevertStepOp, columns: string[]): string {
    const last = this.last;
    if (last && last.meta === meta && last.op === op && last.columns === columns) return last.sql;
    let table = this.cache.get(meta);
    if (!table) {
      table = new Map();
      this.cache.set(meta, table);
    }
    const key = `${op}\u0001${columns.join('\u0000')}`;
    let sql = table.get(key);
    if (sql === undefined) {
      sql =
        op === 'delete'
          ? deleteOne(meta)
          : op === 'insert'
            ? insertOne(meta, columns)
            : updateOne(meta, columns);
      table.set(key, sql);
    }
    this.last = { meta, op, columns, sql };
    return sql;
  }
}

function toStep(meta: TableMeta, net: NetStep, statements: StatementCache): RevertStep {
  const sql = statements.get(meta, net.op, net.setColumns);
  return stepObject(meta, net, sql, meta.recorded ? formatTableName(meta.recorded) : undefined);
}

/** Newest reverted change first: undoing in reverse keeps self-references of one table valid. */
const newestFirst = (a: NetStep, b: NetStep) =>
  a.last.capturedAt === b.last.capturedAt
    ? BigInt(b.last.id) > BigInt(a.last.id)
      ? 1
      : -1
    : a.last.capturedAt < b.last.capturedAt
      ? 1
      : -1;

/** Merge two newest-first lists. */
function merge(a: NetStep[], b: NetStep[]): NetStep[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out: NetStep[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) out.push(newestFirst(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!);
  while (i < a.length) out.push(a[i++]!);
  while (j < b.length) out.push(b[j++]!);
  return out;
}

/** A table's steps, newest change first, with the later change of each row that has one. */
interface TableSteps {
  steps: NetStep[];
  later: Map<NetStep, LaterChange>;
  /** Keys (stored text) whose row cannot be told under a DEFERRABLE key (net.ts). */
  unknowable?: string[];
  /** Keys (stored text) whose changes were captured out of the order they happened (net.ts). */
  unordered?: string[];
}

/** Steps of rows changed more than once (net.ts), merged into the set-wise ones. */
async function withNetted(
  run: Run,
  q: string,
  meta: TableMeta,
  changes: StoredChange[],
  transactions: string[],
  found: TableSteps,
): Promise<TableSteps> {
  const unknowable: string[] = [];
  const unordered: string[] = [];
  const netted = netSteps(changes, meta, unknowable, unordered).sort(newestFirst);
  for (const [step, change] of await laterChanges(run, q, meta, netted, transactions))
    found.later.set(step, change);
  return { steps: merge(found.steps, netted), later: found.later, unknowable, unordered };
}

/** A set-wise table's steps (set-steps.ts), rows changed more than once collapsed by net.ts. */
async function setTable(
  run: Run,
  q: string,
  meta: TableMeta,
  transactions: string[],
  found: SetSteps,
): Promise<TableSteps> {
  const changes = found.multi.length > 0 ? await changesById(run, q, found.multi, transactions) : [];
  return withNetted(run, q, meta, changes, transactions, found);
}

/**
 * Build the plan: net steps per row, ordered for foreign keys, with every conflict found. A
 * transaction or correlation target is read set-wise: one statement per table computes the steps
 * of rows with one change (the bulk case) in SQL, and the first table's statement also lists the
 * other tables; rows changed more than once, and a row target, are collapsed by net.ts.
 */
export async function planRevert(run: Run, q: string, target: RevertTarget): Promise<RevertPlan> {
  const loaded = await loadTarget(run, q, target);
  const metas = new Map<string, TableMeta>();
  const done = new Map<string, TableSteps>();
  if (loaded.first) {
    const { schema, name, sampleKey } = loaded.first;
    const meta = await currentMeta(run, q, schema, name, sampleKey, loaded.transactions);
    const found = await setSteps(run, q, meta, loaded.transactions, true);
    metas.set(tableId(schema, name), meta);
    done.set(tableId(schema, name), await setTable(run, q, meta, loaded.transactions, found));
    loaded.changeCount = found.tables.reduce((n, t) => n + t.changes, 0);
    loaded.truncates = found.tables
      .flatMap((t) => t.truncates.map(([id, at]) => ({ schema: t.schema, name: t.name, id, at })))
      .sort((a, b) => (a.at === b.at ? (BigInt(a.id) < BigInt(b.id) ? -1 : 1) : a.at < b.at ? -1 : 1));
    loaded.tables = found.tables
      .filter((t) => t.sampleKey !== null)
      .map((t) => ({ schema: t.schema, name: t.name, sampleKey: t.sampleKey!, changes: null }));
  }
  const conflicts: RevertConflict[] = loaded.truncates.map((t) => {
    const label = formatTableName({ schema: t.schema, name: t.name });
    return {
      table: label,
      pk: {},
      kind: 'not_stored',
      detail: `${label}: TRUNCATE (change ${t.id}) cannot be reverted: the removed rows were not captured one by one; restore them from a backup`,
    };
  });
  const nets = new Map<string, NetStep[]>();
  for (const table of loaded.tables) {
    const id = tableId(table.schema, table.name);
    // A row target names the table by its current name; a transaction's tables are resolved by id.
    const meta =
      metas.get(id) ??
      (table.changes === null
        ? await currentMeta(run, q, table.schema, table.name, table.sampleKey, loaded.transactions)
        : await loadTableMeta(run, q, table.schema, table.name, table.sampleKey));
    metas.set(id, meta);
    const { steps, later, unknowable, unordered } =
      done.get(id) ??
      (table.changes === null
        ? await setTable(
            run,
            q,
            meta,
            loaded.transactions,
            await setSteps(run, q, meta, loaded.transactions, false),
          )
        : await withNetted(run, q, meta, table.changes, loaded.transactions, {
            steps: [],
            later: new Map(),
          }));
    nets.set(id, steps);
    for (const step of steps) {
      const refused = notStoredConflict(meta, step);
      if (refused) conflicts.push(refused);
    }
    conflicts.push(...keyCycles(meta, steps, unknowable ?? []));
    for (const key of unordered ?? [])
      conflicts.push({
        table: meta.label,
        pk: parseExactJson(key) as Record<string, unknown>,
        kind: 'order_unknown',
        detail: `${meta.label} ${key}: its changes were captured in another order than they happened (a trigger changed the row inside the statement that changed it, e.g. an AFTER ROW trigger updating its own row), so the state before them cannot be told from the audit trail; revert this row by hand`,
      });
    conflicts.push(...(await rowConflicts(run, q, meta, steps, later)));
    conflicts.push(...(await takenKeys(run, q, meta, steps, loaded.transactions)));
  }
  const cascaded = await cascadedSteps(run, metas, nets);
  if (cascaded.size > 0)
    for (const [id, list] of nets)
      nets.set(
        id,
        list.filter((s) => !cascaded.has(s)),
      );
  const ids = [...nets.keys()].filter((id) => nets.get(id)!.length > 0);
  const refs = ids.map((id) => ({ id, schema: metas.get(id)!.schema, name: metas.get(id)!.name }));
  const { order, cycles } = orderTables(ids, await foreignKeys(run, refs));
  for (const cycle of cycles) {
    const labels = cycle.map((id) => metas.get(id)!.label);
    for (const id of cycle) {
      if (!nets.get(id)!.some((s) => s.op !== 'update')) continue;
      conflicts.push({
        table: metas.get(id)!.label,
        pk: {},
        kind: 'fk_cycle',
        detail: `${metas.get(id)!.label}: foreign keys form a cycle (${labels.join(' -> ')}), so no order of inserts and deletes is safe; revert these rows by hand`,
      });
    }
  }
  const steps: RevertStep[] = [];
  const statements = new StatementCache();
  const first = new Map(ids.map((id) => [id, keyFreeingFirst(metas.get(id)!, nets.get(id)!)]));
  const phase = (op: RevertStepOp, tables: string[], early: boolean) => {
    for (const id of tables) {
      const meta = metas.get(id)!;
      const freeing = first.get(id)!;
      if (early && freeing.size === 0) continue;
      for (const net of nets.get(id)!)
        if (net.op === op && (freeing.size > 0 && freeing.has(net)) === early)
          steps.push(toStep(meta, net, statements));
    }
  };
  phase('delete', [...order].reverse(), true); // rows holding a key an earlier phase gives back (key-order.ts)
  phase('update', order, true);
  phase('insert', order, false); // parents before children
  phase('update', order, false);
  phase('delete', [...order].reverse(), false); // children before parents
  const summary = summarize(loaded, steps, conflicts);
  return { steps, conflicts, summary, causationId: loaded.causationId, plannedAt: new Date().toISOString() };
}

/**
 * UPDATE steps that give a row back a key another of the plan's rows holds now (keys swapped, e.g.
 * 1→3, 2→1, 3→2): each single-row update would hit the other row's key, so no order works.
 */
function keyCycles(meta: TableMeta, steps: NetStep[], unknowable: string[]): RevertConflict[] {
  if (unknowable.length > 0)
    return unknowable.map((key) => ({
      table: meta.label,
      pk: parseExactJson(key) as Record<string, unknown>,
      kind: 'key_cycle' as const,
      detail: `${meta.label} ${key}: a row moved or was inserted into this key, and under the table's DEFERRABLE primary key another row may still have held it then, so which row a later change of the key changed cannot be told from the audit trail; revert these rows by hand`,
    }));
  const moves: [NetStep, string, string][] = [];
  for (const step of steps) {
    if (step.op !== 'update' || !meta.keyColumns.some((c) => step.setColumns.includes(c))) continue;
    moves.push([step, keyOf(meta, parseRawObject(step.key)), keyBack(meta, step)]);
  }
  if (moves.length < 2) return [];
  const held = new Set(moves.map(([, now]) => now));
  return moves
    .filter(([, now, back]) => back !== now && held.has(back))
    .map(([step]) => ({
      table: meta.label,
      pk: step.pk ?? (parseExactJson(step.key) as Record<string, unknown>),
      kind: 'key_cycle' as const,
      detail: `${meta.label} ${step.key}: its key goes back to one another row of this revert holds now (keys were swapped), so the rows cannot be updated one by one; revert them by hand through a free key`,
    }));
}

function summarize(
  loaded: Awaited<ReturnType<typeof loadTarget>>,
  steps: RevertStep[],
  conflicts: RevertConflict[],
): RevertSummary {
  const ops: Record<RevertStepOp, number> = { insert: 0, update: 0, delete: 0 };
  const tableSet = new Set<string>();
  const renamed = new Set<string>();
  let lastTable = '';
  for (const s of steps) {
    ops[s.op] += 1;
    if (s.table !== lastTable) {
      lastTable = s.table;
      tableSet.add(lastTable);
      if (s.recordedAs) renamed.add(`${s.table} (recorded as ${s.recordedAs})`);
    }
  }
  const counts: Record<RevertConflictKind, number> = {
    changed_since: 0,
    not_stored: 0,
    key_changed: 0,
    key_taken: 0,
    deleted_since: 0,
    fk_cycle: 0,
    key_cycle: 0,
    order_unknown: 0,
  };
  for (const c of conflicts) counts[c.kind] += 1;
  const tables = [...tableSet];
  const opText = (Object.keys(ops) as RevertStepOp[])
    .filter((k) => ops[k] > 0)
    .map((k) => `${ops[k]} ${k}`)
    .join(', ');
  const text = `revert ${loaded.label}: ${steps.length} row${steps.length === 1 ? '' : 's'} in ${tables.length} table${tables.length === 1 ? '' : 's'}${opText ? ` (${opText})` : ''}${conflicts.length ? `, ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}` : ''}${renamed.size ? `; renamed since: ${[...renamed].join(', ')}` : ''}`;
  return {
    text,
    target: loaded.target,
    transactions: loaded.transactions,
    changes: loaded.changeCount,
    rows: steps.length,
    tables,
    ops,
    conflicts: counts,
  };
}
