/**
 * Adapter benchmark: a realistic endpoint served by Express, Hono and NestJS with and without
 * Threadline, the request middleware alone, and attributed autocommit writes through
 * node-postgres, knex and TypeORM, side by side in one run. Servers and the load generator run in
 * child processes; variants are interleaved in shuffled order per repetition. Results go to
 * stdout, progress to stderr. See bench/README.md.
 */

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname } from 'node:path';
import { createThreadline } from '@threadline/core';
import type { BenchDb } from '../db.js';
import { log } from '../db.js';
import { parseOrExit, runWithBenchDb } from '../entry.js';
import { killChildren, LoaderProcess } from './children.js';
import { type HttpRun, runHttp } from './http.js';
import { type AdapterBenchOptions, parseOptions, USAGE } from './options.js';
import { profileReport } from './profile.js';
import { endpointReport, middlewareReport, type Target, targetsReport, writesReport } from './report.js';
import { SHOP_SCHEMA, shopSetupSql } from './shop.js';
import { runWrites, WRITE_SCHEMA, type WriteRun, writesSetupSql } from './writes.js';

const BENCH_DIR = new URL('../../', import.meta.url);

function version(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL(`node_modules/${name}/package.json`, BENCH_DIR), 'utf8'));
    return `${name} ${pkg.version}`;
  } catch {
    return `${name} ?`;
  }
}

async function setup(db: BenchDb): Promise<void> {
  await db.sql.query(
    [shopSetupSql(SHOP_SCHEMA.plain), shopSetupSql(SHOP_SCHEMA.threadline), writesSetupSql()].join('\n'),
  );
  const tl = createThreadline({ db: db.sql });
  await tl.install();
  await tl.installTriggers({
    tables: [
      `${SHOP_SCHEMA.threadline}.orders`,
      `${SHOP_SCHEMA.threadline}.balances`,
      `${WRITE_SCHEMA.audited}.items`,
    ],
  });
  await db.sql.query(`VACUUM ANALYZE`);
}

async function main(o: AdapterBenchOptions, db: BenchDb): Promise<void> {
  const started = Date.now();
  log(`creating database ${db.name}`);
  await db.create();
  await setup(db);
  const settings = await db.sql.query(
    `SELECT name, setting, unit FROM pg_settings
      WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'max_connections')
      ORDER BY name`,
  );
  const settingText = settings.rows
    .map((r) => `${r.name}=${r.setting}${r.unit && r.unit !== '' ? ` ${r.unit}` : ''}`)
    .join(', ');
  const server = await db.scalar<string>('SHOW server_version');
  const serverSync = await db.scalar<string>('SHOW synchronous_commit');

  const targets: Target[] = [];
  const sections: string[] = [];
  const verified: string[] = [];
  let httpRuns: HttpRun[] = [];
  let writeRuns: WriteRun[] = [];
  if (o.only.has('endpoint') || o.only.has('middleware')) {
    const loader = await LoaderProcess.start();
    try {
      const http = await runHttp(db, o, loader);
      httpRuns = http.runs;
      verified.push(...http.verified);
    } finally {
      await loader.stop();
    }
    if (o.only.has('endpoint')) sections.push(endpointReport(httpRuns, o));
    if (o.only.has('middleware')) sections.push(middlewareReport(httpRuns, o, targets));
    if (o.profile) sections.push(profileReport(httpRuns, o.profile));
  }
  if (o.only.has('writes')) {
    const writes = await runWrites(db, o);
    writeRuns = writes.runs;
    verified.push(writes.verified);
    sections.push(writesReport(writeRuns, o, serverSync));
  }
  const minutes = (Date.now() - started) / 60_000;
  const header = [
    'Threadline adapter benchmark',
    `PostgreSQL ${server} (${settingText}); ${availableParallelism()} CPUs; Node ${process.version}`,
    [
      'express',
      'hono',
      '@hono/node-server',
      '@nestjs/core',
      '@nestjs/platform-express',
      'knex',
      'typeorm',
      'pg',
      'undici',
    ]
      .map(version)
      .join(', ') + ' (undici: the load generator)',
    `--reps ${o.reps} --seconds ${o.seconds} --window ${o.window} --warmup ${o.warmup} --connections ${o.connections} --pool ${o.pool} ` +
      `--writes ${o.writes} --seed ${o.seed}${o.quick ? ' (--quick)' : ''}; frameworks ${o.frameworks.join(',')}; ` +
      `ran ${minutes.toFixed(1)} min${o.profile ? `; CPU profiles in ${o.profile} (timings are slowed by profiling)` : ''}`,
    'Each server runs in its own process, the load generator in another; the three share the machine with PostgreSQL.',
    '',
  ].join('\n');
  const verification = [
    'Verification (a mismatch stops the run with exit code 1):',
    ...verified.map((line) => `- ${line}`),
  ].join('\n');
  process.stdout.write(`${[header, ...sections, targetsReport(targets), verification].join('\n')}\n`);
  if (o.json) {
    mkdirSync(dirname(o.json), { recursive: true });
    writeFileSync(
      o.json,
      `${JSON.stringify(
        {
          options: { ...o, only: [...o.only] },
          server,
          settings: settings.rows,
          targets,
          http: httpRuns,
          writes: writeRuns,
        },
        null,
        2,
      )}\n`,
    );
    log(`raw results written to ${o.json}`);
  }
}

const options = parseOrExit(parseOptions, USAGE);
await runWithBenchDb(options.url, (db) => main(options, db), killChildren);
