/**
 * Catalog reads stay cheap (`npm run bench:health`): coverage and findings on a schema with many
 * captured tables next to the same on a schema with few, in one run, alternating in shuffled
 * order. The check reads the catalogs in a fixed number of queries, so time grows with the rows
 * those queries return, never with one round trip per table.
 */
import { createThreadline } from '@threadline/core';
import { log } from './db.js';
import { parseOrExit, runWithBenchDb } from './entry.js';
import { num, range, section, table } from './print.js';
import { prng, shuffle, spread } from './stats.js';

const USAGE = `npm run bench:health -- [--tables N] [--small N] [--reps N]
  --tables N  tables in the large schema (default 1000)
  --small N   tables in the small schema (default 10)
  --reps N    timed repetitions of each check (default 15)
Environment: TL_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres): a server where a
throwaway database may be created and dropped.`;

interface Options {
  tables: number;
  small: number;
  reps: number;
}

function parse(raw: string[]): Options | 'help' {
  const argv = raw.filter((a) => a !== '--');
  if (argv.includes('--help')) return 'help';
  const out: Options = { tables: 1000, small: 10, reps: 15 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i]!.replace(/^--/, '') as keyof Options;
    if (!(key in out)) throw new Error(`unknown flag ${argv[i]}`);
    const value = Number(argv[i + 1]);
    if (!Number.isInteger(value) || value < 1) throw new Error(`--${key} must be a positive integer`);
    out[key] = value;
  }
  return out;
}

const options = parseOrExit(parse, USAGE);
const url = process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

await runWithBenchDb(url, async (db) => {
  await db.create();
  const pool = db.pool(2);
  try {
    const tl = createThreadline({ db: pool });
    await tl.install();
    const schemas = { small: options.small, large: options.tables };
    for (const [schema, count] of Object.entries(schemas)) {
      log(`creating ${count} tables in schema ${schema}`);
      const ddl = Array.from(
        { length: count },
        (_, i) => `CREATE TABLE ${schema}.t${i} (id bigint PRIMARY KEY, title text, n int, at timestamptz);`,
      );
      await db.sql.query(`CREATE SCHEMA ${schema}; ${ddl.join('\n')}`);
      // Nine in ten tables are captured; every tenth is left uncovered.
      const captured = Array.from({ length: count }, (_, i) => i).filter((i) => i % 10 !== 9);
      for (let at = 0; at < captured.length; at += 100) {
        await tl.installTriggers({ tables: captured.slice(at, at + 100).map((i) => `${schema}.t${i}`) });
      }
    }
    await db.sql.query('ANALYZE');
    const checks = {
      'coverage small': () => tl.health.coverage({ schema: 'small' }),
      'coverage large': () => tl.health.coverage({ schema: 'large' }),
      'findings small': () => tl.health.findings({ schema: 'small' }),
      'findings large': () => tl.health.findings({ schema: 'large' }),
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(checks).map((k) => [k, []]));
    for (const fn of Object.values(checks)) await fn(); // warm up
    const random = prng(8);
    for (let rep = 0; rep < options.reps; rep++) {
      for (const name of shuffle(Object.keys(checks), random)) {
        const started = performance.now();
        await checks[name as keyof typeof checks]();
        times[name]!.push(performance.now() - started);
      }
    }
    const large = await tl.health.coverage({ schema: 'large' });
    const counts = large.schemas[0]!;
    if (counts.covered.length + counts.uncovered.length !== options.tables)
      throw new Error(
        `coverage listed ${counts.covered.length + counts.uncovered.length} tables, not ${options.tables}`,
      );
    const s = (k: string) => spread(times[k]!);
    const ratio = (a: string, b: string) => s(a).median / s(b).median;
    const coverageRatio = ratio('coverage large', 'coverage small');
    process.stdout.write(
      section(
        `Health checks: ${options.tables} vs ${options.small} tables (ms, median [min-max] of ${options.reps})`,
        'Each check is a fixed number of catalog queries; nine in ten tables captured.',
        table(
          ['check', `${options.small} tables`, `${options.tables} tables`, 'ratio'],
          [
            ['coverage', range(s('coverage small')), range(s('coverage large')), num(coverageRatio, 1)],
            [
              'findings',
              range(s('findings small')),
              range(s('findings large')),
              num(ratio('findings large', 'findings small'), 1),
            ],
          ],
        ),
        `target: coverage on ${options.tables} tables < 20 x the ${options.small}-table time: ${coverageRatio < 20 ? 'met' : 'NOT met'} (${num(coverageRatio, 1)} x); large schema: ${counts.covered.length} covered, ${counts.uncovered.length} uncovered`,
      ),
    );
  } finally {
    await pool.end();
  }
});
