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
 * after installing (to measure a variant of a function by hand).
 *
 *   pnpm --filter @threadline/bench run instructions -- [--baseline-core PATH] [--few 20] [--many 120] [--plain] [--out DIR] [--branch-sql FILE]
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { log } from './db.js';
import { num, table } from './print.js';
import { prng } from './stats.js';
import { TPCB_TABLES, tpcbTablesSql, tpcbVacuumSql } from './tpcb-schema.js';

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
  },
});
const few = Number(values.few ?? 20);
const many = Number(values.many ?? 120);
const port = Number(values.port ?? 54_329);
const bin = values.bin ?? '';
const tool = (name: string) => (bin ? join(bin, name) : name);
const dir = mkdtempSync(join(tmpdir(), 'tl-instructions-'));
const out = resolve(values.out ?? join(dir, 'callgrind'));
const data = join(dir, 'data');
/** initdb and postgres refuse to run as root: then everything runs as the postgres user. */
const asRoot = process.getuid?.() === 0;
const owner = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
const run = (cmd: string, args: string[], input?: string): string =>
  execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, {
    input,
    maxBuffer: 1 << 28,
    stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  }).toString();

interface Build {
  name: string;
  core?: string; // packages/core directory; none: no capture
}
const here = resolve(import.meta.dirname, '../../packages/core');
const builds: Build[] = [
  { name: 'branch', core: here },
  ...(values['baseline-core'] ? [{ name: 'baseline', core: resolve(values['baseline-core']) }] : []),
  ...(values.plain ? [{ name: 'plain' }] : []),
];

/** The script of n transactions, one statement a line (single-user mode ends a statement at a newline). */
function script(n: number): string {
  const random = prng(7);
  const int = (max: number) => 1 + Math.floor(random() * max);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const [aid, tid, delta] = [int(100_000), int(10), int(10_001) - 5001];
    lines.push(
      'BEGIN;',
      `select set_config('threadline.actor_ref', '{"type":"user","id":"7"}', true), set_config('threadline.context', '{"correlationId":"bench-instructions"}', true);`,
      `UPDATE tpcb.pgbench_accounts SET abalance = abalance + ${delta} WHERE aid = ${aid};`,
      `SELECT abalance FROM tpcb.pgbench_accounts WHERE aid = ${aid};`,
      `UPDATE tpcb.pgbench_tellers SET tbalance = tbalance + ${delta} WHERE tid = ${tid};`,
      `UPDATE tpcb.pgbench_branches SET bbalance = bbalance + ${delta} WHERE bid = 1;`,
      `INSERT INTO tpcb.pgbench_history (tid, bid, aid, delta, mtime) VALUES (${tid}, 1, ${aid}, ${delta}, CURRENT_TIMESTAMP);`,
      'COMMIT;',
    );
  }
  return `${lines.join('\n')}\n`;
}

async function setUp(): Promise<void> {
  if (owner !== undefined) chownSync(dir, owner, owner);
  chmodSync(dir, 0o700);
  run(tool('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
  writeFileSync(
    join(data, 'postgresql.auto.conf'),
    `port = ${port}\nlisten_addresses = ''\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nautovacuum = off\njit = off\n`,
  );
  run(tool('pg_ctl'), ['-D', data, '-w', '-l', join(dir, 'log'), 'start']);
  const admin = new pg.Client({ host: dir, port, user: 'postgres', database: 'postgres' });
  await admin.connect();
  for (const b of builds) {
    await admin.query(`CREATE DATABASE ${b.name}`);
    const c = new pg.Client({ host: dir, port, user: 'postgres', database: b.name });
    await c.connect();
    await c.query(tpcbTablesSql('tpcb', 1));
    await c.query(tpcbVacuumSql('tpcb'));
    if (b.core) {
      const core = (await import(
        pathToFileURL(join(b.core, 'dist', 'index.js')).href
      )) as typeof import('@threadline/core');
      const tl = core.createThreadline({
        db: c,
        tables: Object.fromEntries(TPCB_TABLES.map((t) => [`tpcb.${t}`, {}])),
      });
      await tl.install();
      await tl.installTriggers({ tables: TPCB_TABLES.map((t) => `tpcb.${t}`) });
      if (b.name === 'branch' && values['branch-sql'])
        await c.query(readFileSync(values['branch-sql'], 'utf8'));
    }
    await c.end();
  }
  await admin.end();
  run(tool('pg_ctl'), ['-D', data, '-w', '-m', 'fast', 'stop']);
}

/** Instructions callgrind counted in a single-user backend running a script of n transactions. */
function count(b: Build, n: number): number {
  const file = join(out, `${b.name}-${n}.callgrind`);
  run(
    'valgrind',
    [
      '--tool=callgrind',
      `--callgrind-out-file=${file}`,
      '--collect-atstart=no',
      '--toggle-collect=PortalRun',
      '--toggle-collect=CommitTransactionCommand',
      tool('postgres'),
      '--single',
      '-D',
      data,
      b.name,
    ],
    script(n),
  );
  const totals = /^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(file, 'utf8'));
  if (!totals) throw new Error(`no totals in ${file}`);
  return Number(totals[1]);
}

try {
  log(
    `cluster in ${dir} (port ${port}); builds: ${builds.map((b) => `${b.name}${b.core ? ` = ${b.core}` : ''}`).join(', ')}`,
  );
  mkdirSync(out, { recursive: true });
  if (owner !== undefined) chownSync(out, owner, owner);
  await setUp();
  const rows: string[][] = [];
  const perTx: Record<string, number> = {};
  for (const b of builds) {
    const [a, z] = [count(b, few), count(b, many)];
    perTx[b.name] = (z - a) / (many - few);
    log(`${b.name}: ${few} tx ${a}, ${many} tx ${z} instructions`);
    rows.push([b.name, num(perTx[b.name]!, 0)]);
  }
  const base = perTx.baseline;
  process.stdout.write(
    `Instructions per TPC-B transaction (callgrind, PortalRun + CommitTransactionCommand, (${many} - ${few} tx) / ${many - few}); files in ${out}\n${table(
      ['build', 'instructions/tx', ...(base ? ['vs baseline'] : [])],
      rows.map((r) => (base ? [...r, `${(((perTx[r[0]!]! - base) / base) * 100).toFixed(1)}%`] : r)),
    )}\n`,
  );
} finally {
  try {
    run(tool('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
  } catch {
    // not running
  }
  rmSync(data, { recursive: true, force: true });
}
