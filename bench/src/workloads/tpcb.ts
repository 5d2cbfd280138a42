import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createThreadline } from '@threadline/core';
import { anchorTriggerSql } from '../anchor.js';
import { type BenchDb, log } from '../db.js';
import type { BenchOptions } from '../options.js';
import { ACTOR_JSON, TL_SCHEMA } from '../schema.js';
import { prng, shuffle } from '../stats.js';
import {
  TPCB_FLOOR_SQL,
  TPCB_KEYS,
  TPCB_TABLES,
  type TpcbVariant,
  tpcbCorrelation,
  tpcbSchema,
  tpcbSchemas,
  tpcbScript,
  tpcbTablesSql,
  tpcbVacuumSql,
  tpcbVariants,
} from '../tpcb-schema.js';

const run = promisify(execFile);
const PGBENCH = process.env.TL_PGBENCH ?? '/usr/lib/postgresql/15/bin/pgbench';
export const TPCB_CLIENTS = [1, 8];

export interface TpcbRun {
  rep: number;
  clients: number;
  variant: TpcbVariant;
  tps: number;
  transactions: number;
  failed: number;
}

/** What pgbench printed: tps (without connection time), processed and failed transactions. */
function parsePgbench(out: string): { tps: number; transactions: number; failed: number } {
  const tps = /tps = ([0-9.]+) \(without initial connection time\)/.exec(out);
  const done = /number of transactions actually processed: (\d+)/.exec(out);
  const failed = /number of failed transactions: (\d+)/.exec(out);
  if (!tps || !done) throw new Error(`could not read pgbench's output:\n${out}`);
  return { tps: Number(tps[1]), transactions: Number(done[1]), failed: failed ? Number(failed[1]) : 0 };
}

/** Create the four schemas' tables and rows, the floor's tables, capture and the anchor's triggers. */
async function setupTpcb(db: BenchDb, o: BenchOptions): Promise<void> {
  for (const schema of tpcbSchemas(o.compareInvoker)) {
    log(`tpcb: loading ${schema} (scale ${o.tpcbScale})`);
    await db.sql.query(tpcbTablesSql(schema, o.tpcbScale));
    await db.sql.query(tpcbVacuumSql(schema));
  }
  await db.sql.query(TPCB_FLOOR_SQL);
  for (const t of TPCB_TABLES) {
    await db.sql.query(anchorTriggerSql(`tpcb_anchor.${t}`, [TPCB_KEYS[t]!]));
  }
  const tl = createThreadline({ db: db.sql });
  await tl.installTriggers({ tables: TPCB_TABLES.map((t) => `tpcb_capture.${t}`) });
  if (o.compareInvoker)
    await db.installInvoker(
      tl,
      TPCB_TABLES.map((t) => `tpcb_invoker.${t}`),
    );
}

/**
 * pgbench's TPC-B transaction at 1 and 8 clients. Every (clients, variant) pair runs
 * --tpcb-seconds per repetition; within a repetition the pairs run in shuffled order. The real
 * pgbench binary drives the load (-M prepared, -n).
 */
export async function runTpcb(db: BenchDb, o: BenchOptions): Promise<{ runs: TpcbRun[]; checks: string }> {
  await db.reset([], 0);
  await setupTpcb(db, o);
  const dir = mkdtempSync(join(tmpdir(), 'tl-bench-tpcb-'));
  const url = new URL(db.url);
  const runs: TpcbRun[] = [];
  const random = prng(o.seed + 4);
  try {
    const scripts = new Map<TpcbVariant, string>();
    const variants = tpcbVariants(o.compareInvoker);
    for (const v of variants) {
      const file = join(dir, `${v}.sql`);
      writeFileSync(file, tpcbScript(v, o.tpcbScale));
      scripts.set(v, file);
    }
    const combos = TPCB_CLIENTS.flatMap((clients) => variants.map((variant) => ({ clients, variant })));
    for (let rep = 1; rep <= o.reps; rep++) {
      await db.checkpoint();
      for (const { clients, variant } of shuffle(combos, random)) {
        const args = [
          '-n',
          '-M',
          'prepared',
          '-c',
          String(clients),
          '-j',
          String(Math.min(clients, 2)),
          '-T',
          String(o.tpcbSeconds),
          '-f',
          scripts.get(variant)!,
          '-h',
          url.hostname,
          '-p',
          url.port || '5432',
          '-U',
          decodeURIComponent(url.username || 'postgres'),
          db.name,
        ];
        const { stdout } = await run(PGBENCH, args, {
          env: {
            ...process.env,
            PGOPTIONS: `-c search_path=${tpcbSchema(variant)}`,
            PGAPPNAME: `tl-bench-tpcb-${variant}`,
            ...(url.password ? { PGPASSWORD: decodeURIComponent(url.password) } : {}),
          },
          maxBuffer: 16 * 1024 * 1024,
        });
        const r = parsePgbench(stdout);
        runs.push({ rep, clients, variant, ...r });
        log(
          `tpcb rep ${rep}/${o.reps} ${clients} client(s) ${variant.padEnd(7)} ${r.tps.toFixed(0).padStart(6)} tps`,
        );
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { runs, checks: await verifyTpcb(db, runs) };
}

/**
 * Audit rows against what ran: capture and the anchor write one change per history row plus one
 * per UPDATE that changed its row (delta <> 0), and one transaction row per transaction carrying
 * the bound actor and correlation id; the floor writes four changes and one transaction row per
 * transaction. Throws on a mismatch.
 */
async function verifyTpcb(db: BenchDb, runs: TpcbRun[]): Promise<string> {
  const q = async (sql: string, params: unknown[] = []) => Number(await db.scalar(sql, params));
  const problems: string[] = [];
  const lines: string[] = [];
  const expectEq = (what: string, actual: number, wanted: number) => {
    if (actual !== wanted) problems.push(`${what}: ${actual}, expected ${wanted}`);
  };
  const audited: TpcbVariant[] = ['capture', 'anchor', 'floor'];
  if (runs.some((r) => r.variant === 'invoker')) audited.push('invoker');
  for (const v of audited) {
    const schema = tpcbSchema(v);
    const txns = await q(`SELECT count(*) FROM ${schema}.pgbench_history`);
    const moved = await q(`SELECT count(*) FROM ${schema}.pgbench_history WHERE delta <> 0`);
    const processed = runs.filter((r) => r.variant === v).reduce((s, r) => s + r.transactions, 0);
    lines.push(`${v}: ${txns} transactions committed (pgbench counted ${processed})`);
    if (v === 'floor') {
      expectEq('floor changes', await q('SELECT count(*) FROM tpcb_floor.floor_changes'), 4 * txns);
      expectEq('floor transactions', await q('SELECT count(*) FROM tpcb_floor.floor_transactions'), txns);
      continue;
    }
    const [changes, transactions] =
      v !== 'anchor'
        ? [
            `SELECT count(*) FROM ${TL_SCHEMA}.audit_changes WHERE table_schema = $1`,
            `SELECT count(*) FROM ${TL_SCHEMA}.audit_transactions WHERE correlation_id = $1 AND actor_ref = $2::jsonb`,
          ]
        : [
            'SELECT count(*) FROM anchor.changes WHERE table_schema = $1',
            'SELECT count(*) FROM anchor.transactions WHERE correlation_id = $1 AND actor_ref = $2::jsonb',
          ];
    expectEq(`${v} changes`, await q(changes, [schema]), txns + 3 * moved);
    expectEq(
      `${v} transactions with the bound actor`,
      await q(transactions, [tpcbCorrelation(v), ACTOR_JSON]),
      txns,
    );
  }
  if (problems.length > 0) throw new Error(`TPC-B correctness check failed:\n  ${problems.join('\n  ')}`);
  return `TPC-B correctness: OK - ${lines.join('; ')}; capture and anchor wrote one change per history row and per UPDATE that changed its row, one transaction row per transaction with the bound actor and correlation id; the floor four changes and one transaction row per transaction.`;
}
