/**
 * Instructions per changed row of bulk INSERT, UPDATE and DELETE (callgrind), the load-independent
 * companion of bench:capture's bulk workload on its short-row fixture (rows of ~60 B generated
 * without hashing). One database per variant in a throwaway cluster (callgrind-cluster.ts):
 *   plain   - no audit;
 *   capture - this build's Threadline capture;
 *   floor   - each statement writes its own audit rows (data-modifying CTE) into unindexed tables,
 *             with the diff the writer knows (bench:capture's floor, schema.ts bulkSql);
 *   stored  - the floor's statements, writing into this build's audit_changes and
 *             audit_transactions (their partitions and indexes) instead: what the storage costs
 *             without any trigger;
 *   anchor  - anchor.ts's AFTER ROW trigger, the design other audit libraries use.
 * Each variant runs, in one transaction with the context bound, INSERT of n rows (I), then
 * UPDATE of all (IU), then DELETE of all (IUD), for n = --few and n = --many; an operation's
 * instructions per row are the growth of its share between the two sizes, divided by the row
 * difference, so per-statement and per-transaction costs cancel.
 *
 *   pnpm --filter @threadline/bench run bulk-instructions -- [--few 500] [--many 2500] [--port 54330] [--out DIR]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ANCHOR_SQL, anchorTriggerSql } from './anchor.js';
import { coreAt, startCallgrindCluster } from './callgrind-cluster.js';
import { log } from './db.js';
import { num, table } from './print.js';
import { AFTER_INSTALL_SQL, type BulkOp, bulkSql, SETUP_SQL, type TableKind, tableOf } from './schema.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    few: { type: 'string' },
    many: { type: 'string' },
    port: { type: 'string' },
    out: { type: 'string' },
    bin: { type: 'string' },
  },
});
const few = Number(values.few ?? 500);
const many = Number(values.many ?? 2500);
const port = Number(values.port ?? 54_330);
const here = resolve(import.meta.dirname, '../../packages/core');

type Variant = 'plain' | 'capture' | 'floor' | 'stored' | 'anchor';
const VARIANTS: Variant[] = ['plain', 'capture', 'floor', 'stored', 'anchor'];
const KIND: Record<Variant, TableKind> = {
  plain: 'plain',
  capture: 'audit',
  floor: 'floor',
  stored: 'floor',
  anchor: 'anchor',
};
const OPS: BulkOp[] = ['insert', 'update', 'delete'];

/** One bulk statement of `v` on one line (single-user mode ends a statement at a newline). */
function statement(v: Variant, op: BulkOp, rows: number): string {
  let sql = bulkSql(op, KIND[v], rows, 'short');
  if (v === 'stored') {
    sql = sql
      .replaceAll('bench.floor_changes', 'threadline.audit_changes')
      .replaceAll('bench.floor_transactions', 'threadline.audit_transactions')
      .replace('RETURNING txid)', 'RETURNING id AS txid)');
  }
  return `${sql.replace(/\s*\n\s*/g, ' ')};`;
}

/** One transaction: the binding, then the first `ops` operations on `rows` rows. */
function script(v: Variant, ops: number, rows: number): string {
  return `${[
    'BEGIN;',
    `select set_config('threadline.actor_ref', '{"type":"user","id":"7"}', true), set_config('threadline.context', '{"correlationId":"bench-bulk-instructions"}', true);`,
    ...OPS.slice(0, ops).map((op) => statement(v, op, rows)),
    'COMMIT;',
  ].join('\n')}\n`;
}

const cluster = startCallgrindCluster({ port, bin: values.bin, out: values.out });
try {
  log(`port ${port}; variants ${VARIANTS.join(', ')}; ${few} and ${many} rows`);
  for (const v of VARIANTS) {
    const c = await cluster.connect(v);
    await c.query(SETUP_SQL);
    if (v === 'anchor') {
      await c.query(ANCHOR_SQL);
      await c.query(anchorTriggerSql(tableOf('anchor', 'short'), ['id']));
    }
    if (v === 'capture' || v === 'stored') {
      const core = await coreAt(here);
      const table = tableOf('audit', 'short');
      const tl = core.createThreadline({ db: c, tables: { [table]: {} } });
      await tl.install();
      await c.query(AFTER_INSTALL_SQL);
      if (v === 'capture') await tl.installTriggers({ tables: [table] });
    }
    await c.end();
  }
  cluster.stop();
  const perRow: Record<Variant, Record<BulkOp, number>> = {} as never;
  for (const v of VARIANTS) {
    const counts = [few, many].map((rows) =>
      [1, 2, 3].map((ops) => cluster.count(v, `${v}-${ops}-${rows}`, script(v, ops, rows))),
    );
    const share = (size: number, op: number) => counts[size]![op]! - (op > 0 ? counts[size]![op - 1]! : 0);
    perRow[v] = Object.fromEntries(
      OPS.map((op, i) => [op, (share(1, i) - share(0, i)) / (many - few)]),
    ) as Record<BulkOp, number>;
    log(`${v}: ${OPS.map((op) => `${op} ${num(perRow[v][op], 0)}`).join(', ')} instructions per row`);
  }
  const ratio = (a: Variant, b: Variant, op: BulkOp) => (perRow[a][op] / perRow[b][op]).toFixed(2);
  process.stdout.write(
    `Instructions per row, short rows (callgrind, PortalRun + CommitTransactionCommand, (${many} - ${few} rows)); files in ${cluster.out}\n${table(
      [
        'op',
        ...VARIANTS,
        'capture ÷ floor',
        'stored ÷ floor',
        'capture ÷ stored',
        'capture ÷ plain',
        'capture ÷ anchor',
      ],
      OPS.map((op) => [
        op,
        ...VARIANTS.map((v) => num(perRow[v][op], 0)),
        ratio('capture', 'floor', op),
        ratio('stored', 'floor', op),
        ratio('capture', 'stored', op),
        ratio('capture', 'plain', op),
        ratio('capture', 'anchor', op),
      ]),
    )}\n`,
  );
} finally {
  cluster.remove();
}
