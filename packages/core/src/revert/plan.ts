import { formatTableName } from '../capture/identifiers.js';
import { parseExactJson } from '../query/exact-json.js';
import { cascadedSteps } from './cascade.js';
import { laterChanges, notStoredConflict } from './conflicts.js';
import { loadTarget, type Run, type StoredChange } from './load.js';
import { type NetStep, netSteps } from './net.js';
import { foreignKeys, orderTables } from './order.js';
import { deleteOne, insertOne, updateOne } from './statements.js';
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

/** Statement text per table, op and column list: built once, shared by every step that uses it. */
class StatementCache {
  private readonly cache = new Map<string, string>();
  get(meta: TableMeta, op: RevertStepOp, columns: string[]): string {
    const key = JSON.stringify([meta.schema, meta.name, op, columns]);
    let sql = this.cache.get(key);
    if (sql === undefined) {
      sql =
        op === 'delete'
          ? deleteOne(meta)
          : op === 'insert'
            ? insertOne(meta, columns)
            : updateOne(meta, columns);
      this.cache.set(key, sql);
    }
    return sql;
  }
}

function toStep(meta: TableMeta, net: NetStep, statements: StatementCache): RevertStep {
  const base = {
    table: meta.label,
    tableSchema: meta.schema,
    tableName: meta.name,
    pk: parseExactJson(net.key) as Record<string, unknown>,
    op: net.op,
    data: net.data,
    expect: net.expect,
    key: net.key,
  };
  const sql = statements.get(meta, net.op, net.setColumns);
  if (net.op === 'delete') return { ...base, sql, params: [net.key] };
  const set = parseExactJson(net.data!) as Record<string, unknown>;
  if (net.op === 'insert') return { ...base, set, sql, params: [net.data!] };
  return { ...base, set, sql, params: [net.data!, net.key] };
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

/** Build the plan: net steps per row, ordered for foreign keys, with every conflict found. */
export async function planRevert(run: Run, q: string, target: RevertTarget): Promise<RevertPlan> {
  const loaded = await loadTarget(run, q, target);
  const conflicts: RevertConflict[] = [];
  const byTable = new Map<string, StoredChange[]>();
  for (const c of loaded.changes) {
    if (c.op === 'truncate') {
      const label = formatTableName({ schema: c.schema, name: c.name });
      conflicts.push({
        table: label,
        pk: {},
        kind: 'not_stored',
        detail: `${label}: TRUNCATE (change ${c.id}) cannot be reverted: the removed rows were not captured one by one; restore them from a backup`,
      });
      continue;
    }
    const id = tableId(c.schema, c.name);
    const list = byTable.get(id);
    if (list) list.push(c);
    else byTable.set(id, [c]);
  }
  const metas = new Map<string, TableMeta>();
  const nets = new Map<string, NetStep[]>();
  for (const [id, changes] of byTable) {
    const first = changes[0]!;
    const meta = await loadTableMeta(run, q, first.schema, first.name, first.pk);
    metas.set(id, meta);
    const steps = netSteps(changes, meta).sort(newestFirst);
    nets.set(id, steps);
    for (const step of steps) {
      const refused = notStoredConflict(meta, step);
      if (refused) conflicts.push(refused);
    }
    conflicts.push(...(await laterChanges(run, q, meta, steps, loaded.transactions)));
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
  const phase = (op: RevertStepOp, tables: string[]) => {
    for (const id of tables)
      for (const net of nets.get(id)!) if (net.op === op) steps.push(toStep(metas.get(id)!, net, statements));
  };
  phase('insert', order); // parents before children
  phase('update', order);
  phase('delete', [...order].reverse()); // children before parents
  const summary = summarize(loaded, steps, conflicts);
  return { steps, conflicts, summary, causationId: loaded.causationId, plannedAt: new Date().toISOString() };
}

function summarize(
  loaded: Awaited<ReturnType<typeof loadTarget>>,
  steps: RevertStep[],
  conflicts: RevertConflict[],
): RevertSummary {
  const ops: Record<RevertStepOp, number> = { insert: 0, update: 0, delete: 0 };
  for (const s of steps) ops[s.op] += 1;
  const counts: Record<RevertConflictKind, number> = {
    changed_since: 0,
    not_stored: 0,
    key_changed: 0,
    fk_cycle: 0,
  };
  for (const c of conflicts) counts[c.kind] += 1;
  const tables = [...new Set(steps.map((s) => s.table))];
  const opText = (Object.keys(ops) as RevertStepOp[])
    .filter((k) => ops[k] > 0)
    .map((k) => `${ops[k]} ${k}`)
    .join(', ');
  const text = `revert ${loaded.label}: ${steps.length} row${steps.length === 1 ? '' : 's'} in ${tables.length} table${tables.length === 1 ? '' : 's'}${opText ? ` (${opText})` : ''}${conflicts.length ? `, ${conflicts.length} conflict${conflicts.length === 1 ? '' : 's'}` : ''}`;
  return {
    text,
    target: loaded.target,
    transactions: loaded.transactions,
    changes: loaded.changes.length,
    rows: steps.length,
    tables,
    ops,
    conflicts: counts,
  };
}
