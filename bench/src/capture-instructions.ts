/**
 * Instructions per TPC-B transaction (callgrind), a load-independent measure of capture's cost.
 * A throwaway cluster (initdb in a temp dir, its own port and socket) gets pgbench's four tables
 * (pgbench_history with a primary key) in one database per build of @threadline/core: this
 * worktree's (`branch`) and, with --baseline-core PATH (a packages/core directory with a built
 * dist/), that one's (`baseline`); Threadline is installed and captures all four tables. The
 * cluster is stopped, and each database runs a script of N transactions (BEGIN; the adapters'
 * binding statement; pgbench's tpcb-like statements; COMMIT) in `postgres --single` under
 * valgrind --tool=callgrind, counting only statement execution and commit (PortalRun and
 * CommitTransactionCommand: the client statements' parsing and planning are the same for every
 * build, and the statistics flushes between statements depend on wall-clock time, which valgrind
 * and the machine's load stretch). With N = --few and N = --many, (many - few) / (many - few
 * transactions) is the count per transaction: the first transactions' catalog loading and
 * planning cancel out. With --plain, also a database without
 * capture (the script with the binding). The callgrind files are kept (--out DIR) for
 * `callgrind_annotate --inclusive=yes FILE`. --branch-sql FILE runs FILE in the branch's database
 * after installing (to measure a variant of a function by hand). --compare adds plain and three
 * designs without Threadline's triggers, to show where capture's instructions go: `anchor`
 * (anchor.ts's AFTER ROW trigger, the design other audit libraries use), `floor` (each statement
 * writes its own audit rows, with a data-modifying CTE, into unindexed tables: what the audit
 * bytes cost) and `stored` (the same statements writing into this build's audit_changes and
 * audit_transactions, partitions and indexes included: what Threadline's storage costs without any
 * trigger). capture - stored is what the triggers themselves cost.
 *
 *   pnpm --filter @threadline/bench run instructions -- [--baseline-core PATH] [--few 20] [--many 120] [--plain] [--compare] [--out DIR] [--branch-sql FILE]
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ANCHOR_SQL, anchorTriggerSql } from './anchor.js';
import { coreAt, startCallgrindCluster } from './callgrind-cluster.js';
import { log } from './db.js';
import { num, table } from './print.js';
import { FLOOR_CHANGES, FLOOR_TRANSACTIONS } from './schema.js';
import { prng } from './stats.js';
import { TPCB_KEYS, TPCB_TABLES, tpcbTablesSql, tpcbVacuumSql } from './tpcb-schema.js';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    'baseline-core': { type: 'string' },
    few: { type: 'string' },
    many: { type: 'string' },
    plain: { type: 'boolean' },
    port: { type: 'string' },
    out: { type: 'string' },
    bin: { type: 'string' },
    'branch-sql': { type: 'string' },
    compare: { type: 'boolean' },
  },
});
const few = Number(values.few ?? 20);
const many = Number(values.many ?? 120);
const port = Number(values.port ?? 54_329);
/**
 * What a database runs: `capture` (a build of @threadline/core captures the four tables), `plain`
 * (no audit, the binding only), `anchor` (anchor.ts's AFTER ROW trigger on the four tables),
 * `floor` (no trigger: every statement writes its audit row itself into unindexed tables) and
 * `stored` (the same, written into this build's own audit_changes and audit_transactions: their
 * partitions and indexes, no trigger).
 */
type Kind = 'capture' | 'plain' | 'anchor' | 'floor' | 'stored';
interface Build {
  name: string;
  kind: Kind;
  core?: string; // packages/core directory (capture and stored)
}
const here = resolve(import.meta.dirname, '../../packages/core');
const builds: Build[] = [
  { name: 'branch', kind: 'capture', core: here },
  ...(values['baseline-core']
    ? [{ name: 'baseline', kind: 'capture' as const, core: resolve(values['baseline-core']) }]
    : []),
  ...(values.plain || values.compare ? [{ name: 'plain', kind: 'plain' as const }] : []),
  ...(values.compare
    ? [
        { name: 'anchor', kind: 'anchor' as const },
        { name: 'floor', kind: 'floor' as const },
        { name: 'stored', kind: 'stored' as const, core: here },
      ]
    : []),
];

/** One audit row written by the statement itself: `x` is the statement's RETURNING *. */
function ownRow(
  b: Build,
  table: string,
  key: string,
  op: 'insert' | 'update',
  col?: string,
  delta?: number,
): string {
  const stored = b.kind === 'stored';
  const target = stored ? 'threadline.audit_changes' : 'floor.changes';
  const tx = stored ? '(SELECT t.id FROM t)' : 'txid_current()';
  const pk = `jsonb_build_object('${key}', x.${key})`;
  const upd = col ? `, '{${col}}'::text[], jsonb_build_object('${col}', x.${col} - ${delta})` : '';
  return `INSERT INTO ${target} (transaction_id, table_schema, table_name, op, table_pk, table_id, key_hash, data_after${col ? ', changed_fields, changed_from' : ''}, captured_at) SELECT ${tx}, 'tpcb', '${table}', '${op}', ${pk}, ${TPCB_TABLES.indexOf(table) + 1}, jsonb_hash_extended(${pk}, 0), to_jsonb(x)${upd}, clock_timestamp() FROM x`;
}

/** The audit transaction row of a floor: written by the first statement, read back by the rest (stored). */
function ownTransaction(b: Build): string {
  return b.kind === 'stored'
    ? `INSERT INTO threadline.audit_transactions (txid, actor_ref, correlation_id) SELECT txid_current(), nullif(current_setting('threadline.actor_ref', true), '')::jsonb, nullif(current_setting('threadline.context', true), '')::jsonb ->> 'correlationId' RETURNING id`
    : `INSERT INTO floor.transactions (txid, actor_ref, correlation_id) SELECT txid_current(), nullif(current_setting('threadline.actor_ref', true), '')::jsonb, nullif(current_setting('threadline.context', true), '')::jsonb ->> 'correlationId' RETURNING txid AS id`;
}

/** The script of n transactions, one statement a line (single-user mode ends a statement at a newline). */
function script(b: Build, n: number): string {
  const random = prng(7);
  const int = (max: number) => 1 + Math.floor(random() * max);
  const own = b.kind === 'floor' || b.kind === 'stored';
  const txRead =
    b.kind === 'stored'
      ? `t AS (SELECT a.id FROM threadline.audit_transactions a WHERE a.txid = txid_current() ORDER BY a.id DESC LIMIT 1), `
      : '';
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const [aid, tid, delta] = [int(100_000), int(10), int(10_001) - 5001];
    const accounts = `UPDATE tpcb.pgbench_accounts SET abalance = abalance + ${delta} WHERE aid = ${aid}`;
    const tellers = `UPDATE tpcb.pgbench_tellers SET tbalance = tbalance + ${delta} WHERE tid = ${tid}`;
    const branches = `UPDATE tpcb.pgbench_branches SET bbalance = bbalance + ${delta} WHERE bid = 1`;
    const history = `INSERT INTO tpcb.pgbench_history (tid, bid, aid, delta, mtime) VALUES (${tid}, 1, ${aid}, ${delta}, CURRENT_TIMESTAMP)`;
    lines.push(
      'BEGIN;',
      `select set_config('threadline.actor_ref', '{"type":"user","id":"7"}', true), set_config('threadline.context', '{"correlationId":"bench-instructions"}', true);`,
    );
    if (!own) {
      lines.push(
        `${accounts};`,
        `SELECT abalance FROM tpcb.pgbench_accounts WHERE aid = ${aid};`,
        `${tellers};`,
        `${branches};`,
        `${history};`,
      );
    } else {
      lines.push(
        `WITH t AS (${ownTransaction(b)}), x AS (${accounts} RETURNING *) ${ownRow(b, 'pgbench_accounts', 'aid', 'update', 'abalance', delta)};`,
        `SELECT abalance FROM tpcb.pgbench_accounts WHERE aid = ${aid};`,
        `WITH ${txRead}x AS (${tellers} RETURNING *) ${ownRow(b, 'pgbench_tellers', 'tid', 'update', 'tbalance', delta)};`,
        `WITH ${txRead}x AS (${branches} RETURNING *) ${ownRow(b, 'pgbench_branches', 'bid', 'update', 'bbalance', delta)};`,
        `WITH ${txRead}x AS (${history} RETURNING *) ${ownRow(b, 'pgbench_history', 'id', 'insert')};`,
      );
    }
    lines.push('COMMIT;');
  }
  return `${lines.join('\n')}\n`;
}

async function setUp(): Promise<void> {
  for (const b of builds) {
    const c = await cluster.connect(b.name);
    await c.query(tpcbTablesSql('tpcb', 1));
    await c.query(tpcbVacuumSql('tpcb'));
    if (b.kind === 'anchor') {
      await c.query(ANCHOR_SQL);
      for (const t of TPCB_TABLES) await c.query(anchorTriggerSql(`tpcb.${t}`, [TPCB_KEYS[t]!]));
    }
    if (b.kind === 'floor') {
      await c.query(`CREATE SCHEMA floor;
CREATE TABLE floor.changes (${FLOOR_CHANGES});
CREATE TABLE floor.transactions (${FLOOR_TRANSACTIONS});`);
    }
    if (b.core) {
      const core = await coreAt(b.core);
      const tl = core.createThreadline({
        db: c,
        tables: Object.fromEntries(TPCB_TABLES.map((t) => [`tpcb.${t}`, {}])),
      });
      await tl.install();
      if (b.kind === 'capture') await tl.installTriggers({ tables: TPCB_TABLES.map((t) => `tpcb.${t}`) });
      if (b.name === 'branch' && values['branch-sql'])
        await c.query(readFileSync(values['branch-sql'], 'utf8'));
    }
    await c.end();
  }
  cluster.stop();
}

const cluster = startCallgrindCluster({ port, bin: values.bin, out: values.out });
try {
  log(`port ${port}; builds: ${builds.map((b) => `${b.name}${b.core ? ` = ${b.core}` : ''}`).join(', ')}`);
  await setUp();
  const rows: string[][] = [];
  const perTx: Record<string, number> = {};
  for (const b of builds) {
    const [a, z] = [
      cluster.count(b.name, `${b.name}-${few}`, script(b, few)),
      cluster.count(b.name, `${b.name}-${many}`, script(b, many)),
    ];
    perTx[b.name] = (z - a) / (many - few);
    log(`${b.name}: ${few} tx ${a}, ${many} tx ${z} instructions`);
    rows.push([b.name, num(perTx[b.name]!, 0)]);
  }
  const base = perTx.baseline;
  const anchor = perTx.anchor;
  process.stdout.write(
    `Instructions per TPC-B transaction (callgrind, PortalRun + CommitTransactionCommand, (${many} - ${few} tx) / ${many - few}); files in ${cluster.out}\n${table(
      ['build', 'instructions/tx', ...(base ? ['vs baseline'] : []), ...(anchor ? ['anchor ÷ build'] : [])],
      rows.map((r) => [
        ...r,
        ...(base ? [`${(((perTx[r[0]!]! - base) / base) * 100).toFixed(1)}%`] : []),
        ...(anchor ? [(anchor / perTx[r[0]!]!).toFixed(2)] : []),
      ]),
    )}\n`,
  );
} finally {
  cluster.remove();
}
