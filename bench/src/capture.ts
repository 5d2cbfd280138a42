/**
 * Capture-overhead benchmark: the same posts-like table with no audit, with Threadline capture,
 * and with the audit rows written by the statement itself (the floor), side by side in one
 * process, variants interleaved in shuffled order per repetition. Results go to stdout, progress
 * to stderr. See bench/README.md.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import type { BenchDb } from './db.js';
import { log } from './db.js';
import { parseOrExit, runWithBenchDb } from './entry.js';
import { invokerReport } from './invoker-report.js';
import { type BenchOptions, parseOptions, USAGE } from './options.js';
import {
  bulkReport,
  concurrentReport,
  hazardReport,
  singleReport,
  type Target,
  targetsReport,
} from './report.js';
import { tpcbReport } from './tpcb-report.js';
import { Verifier } from './verify.js';
import { type BulkRun, runBulk } from './workloads/bulk.js';
import { type ConcurrentRun, runConcurrent } from './workloads/concurrent.js';
import { type HazardRun, runHazard } from './workloads/hazard.js';
import { runSingle, type SingleRun } from './workloads/single.js';
import { runTpcb, type TpcbRun } from './workloads/tpcb.js';

async function main(o: BenchOptions, db: BenchDb): Promise<void> {
  const started = Date.now();
  log(`creating database ${db.name}`);
  await db.create();
  const setup = await db.setup(o.compareInvoker);
  const settings = await db.sql.query(
    `SELECT name, setting, unit FROM pg_settings
      WHERE name IN ('shared_buffers', 'work_mem', 'max_wal_size', 'synchronous_commit', 'fsync', 'jit', 'wal_level')
      ORDER BY name`,
  );
  const settingText = settings.rows
    .map((r) => `${r.name}=${r.setting}${r.unit && r.unit !== '' ? ` ${r.unit}` : ''}`)
    .join(', ');
  log(`capture installed on bench.posts_audit (${setup.mode} mode, ${setup.functionName})`);

  const verifier = new Verifier();
  const targets: Target[] = [];
  const raw: {
    bulk?: BulkRun[];
    single?: SingleRun[];
    concurrent?: ConcurrentRun[];
    hazard?: HazardRun[];
    tpcb?: TpcbRun[];
  } = {};
  const checks: string[] = [];
  const sections: string[] = [];
  if (o.only.has('bulk')) {
    raw.bulk = await runBulk(db, o, verifier);
    sections.push(bulkReport(raw.bulk, o, targets));
  }
  if (o.only.has('single')) {
    raw.single = await runSingle(db, o, verifier);
    sections.push(singleReport(raw.single, o, targets));
  }
  if (o.only.has('concurrent')) {
    raw.concurrent = await runConcurrent(db, o, verifier);
    sections.push(concurrentReport(raw.concurrent, o, targets));
  }
  if (o.only.has('hazard')) {
    raw.hazard = await runHazard(db, o, verifier);
    sections.push(hazardReport(raw.hazard, o, targets));
  }
  if (o.only.has('tpcb')) {
    const tpcb = await runTpcb(db, o);
    raw.tpcb = tpcb.runs;
    checks.push(tpcb.checks);
    sections.push(tpcbReport(raw.tpcb, o, targets));
  }
  if (o.compareInvoker) sections.push(invokerReport(raw.single, raw.concurrent, o));
  const minutes = (Date.now() - started) / 60_000;

  const header = [
    'Threadline capture-overhead benchmark',
    `PostgreSQL ${setup.server} (${settingText}); ${availableParallelism()} CPUs; Node ${process.version}`,
    `capture: ${setup.mode} mode (${setup.functionName}), DDL sync ${setup.ddlSync ? 'on' : 'off'}`,
    ...setup.indexes.map((line) => `indexes of ${line}`),
    `--reps ${o.reps} --rows ${o.rows} --txns ${o.txns} --seconds ${o.seconds} --tpcb-scale ${o.tpcbScale} ` +
      `--tpcb-seconds ${o.tpcbSeconds} --seed ${o.seed}` +
      `${o.quick ? ' (--quick)' : ''}; ran ${minutes.toFixed(1)} min`,
    'Variants: plain = no audit; capture = Threadline triggers; floor = no trigger, the statement writes the same',
    'audit rows itself (data-modifying CTE into unindexed tables with the audit columns); anchor = the common',
    'design of other audit libraries (AFTER ROW trigger, per-row transaction upsert, jsonb NEW/OLD diff).',
    '',
  ].join('\n');
  const body = [header, ...sections, targetsReport(targets), verifier.summary(), ...checks].join('\n');
  process.stdout.write(`${body}\n`);
  if (o.json) {
    mkdirSync(dirname(o.json), { recursive: true });
    writeFileSync(
      o.json,
      `${JSON.stringify({ options: { ...o, only: [...o.only] }, setup, settings: settings.rows, targets, runs: raw }, null, 2)}\n`,
    );
    log(`raw results written to ${o.json}`);
  }
}

const options = parseOrExit(parseOptions, USAGE);
await runWithBenchDb(options.url, (db) => main(options, db));
