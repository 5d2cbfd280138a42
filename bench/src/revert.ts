/**
 * Revert cost (`npm run bench:revert`): a bulk UPDATE, INSERT and DELETE of N rows with capture,
 * then tl.revert.plan + tl.revert.apply of that audit transaction. Prints revert time ÷ the time
 * of the original statement (target ≤ 3), medians over repetitions; the three operations are
 * interleaved in shuffled order in every repetition.
 *
 * `--baseline-core PATH` (the dist/index.js of another build of @threadline/core, e.g. main's) runs
 * that build's revert side by side: every repetition runs each operation with both builds, in
 * shuffled order, each revert timed against its own original statement, so the two are compared
 * under the same load.
 */

import { pathToFileURL } from 'node:url';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '@threadline/core';
import pg from 'pg';
import { log } from './db.js';
import { runOrExit } from './entry.js';
import { intFlag } from './flags.js';
import { num, range, section, table } from './print.js';
import { prng, shuffle, spread } from './stats.js';

const base = process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => intFlag(args, name, fallback);
const ROWS = flag('rows', 10_000);
const REPS = Math.max(1, flag('reps', 5));
const TABLE = 'revert_bench';
const baselineAt = args.indexOf('--baseline-core');
const BASELINE = baselineAt >= 0 ? args[baselineAt + 1] : undefined;
const ops = ['update', 'insert', 'delete'] as const;
type Op = (typeof ops)[number];

const STATEMENT: Record<Op, string> = {
  update: `UPDATE ${TABLE} SET price = 0, name = name || ' (bad)' WHERE id <= ${ROWS}`,
  insert: `INSERT INTO ${TABLE} SELECT g, g * 1.25, 'new ' || g, now() FROM generate_series(${ROWS + 1}, ${2 * ROWS}) g`,
  delete: `DELETE FROM ${TABLE} WHERE id <= ${ROWS}`,
};

interface Sample {
  original: number;
  plan: number;
  apply: number;
}

type Revert = Pick<Threadline, 'revert'>;

async function once(tl: Threadline, reverter: Revert, op: Op): Promise<Sample> {
  let t = performance.now();
  const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.job('bench') }, () =>
    tl.transaction((tx) => tx.query(STATEMENT[op])),
  );
  const original = performance.now() - t;
  t = performance.now();
  const plan = await reverter.revert.plan({ transactionId: auditTransactionId! });
  const planned = performance.now() - t;
  if (plan.steps.length !== ROWS || plan.conflicts.length > 0)
    throw new Error(
      `${op}: expected ${ROWS} steps and no conflicts, got ${plan.steps.length} and ${plan.conflicts.length}`,
    );
  t = performance.now();
  const result = await runWithAuditContext({ actor: ActorRef.admin('bench') }, () =>
    reverter.revert.apply(plan),
  );
  const apply = performance.now() - t;
  if (result.applied !== ROWS) throw new Error(`${op}: applied ${result.applied} of ${ROWS}`);
  return { original, plan: planned, apply };
}

async function main(): Promise<void> {
  const name = `tl_revert_bench_${process.pid}`;
  const admin = new pg.Client(base);
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
  try {
    const tl = createThreadline({ db: pool });
    await tl.install();
    await pool.query(
      `CREATE TABLE ${TABLE} (id int PRIMARY KEY, price numeric(12,2), name text, updated_at timestamptz)`,
    );
    await pool.query(
      `INSERT INTO ${TABLE} SELECT g, g * 1.25, 'item ' || g, now() FROM generate_series(1, ${ROWS}) g`,
    );
    await tl.installTriggers({ tables: [TABLE] });
    const expected = await pool.query(
      `SELECT md5(string_agg(to_jsonb(t)::text, ',' ORDER BY id)) AS h FROM ${TABLE} t`,
    );
    const variants: { name: string; reverter: Revert }[] = [{ name: 'this build', reverter: tl }];
    if (BASELINE) {
      // The other build's revert, on the same pool (same schema: only the revert code differs).
      const other = (await import(pathToFileURL(BASELINE).href)) as {
        createThreadline: typeof createThreadline;
      };
      variants.unshift({
        name: 'baseline',
        reverter: other.createThreadline({ db: pool }) as unknown as Revert,
      });
    }
    const samples = new Map<string, Sample[]>();
    const random = prng(7);
    for (const v of variants) await once(tl, v.reverter, 'update'); // warm-up
    for (let rep = 1; rep <= REPS; rep++) {
      const runs = variants.flatMap((v) => ops.map((op) => ({ v, op })));
      for (const { v, op } of shuffle(runs, random)) {
        const key = `${v.name}\u0000${op}`;
        samples.set(key, [...(samples.get(key) ?? []), await once(tl, v.reverter, op)]);
        const now = await pool.query(
          `SELECT md5(string_agg(to_jsonb(t)::text, ',' ORDER BY id)) AS h FROM ${TABLE} t`,
        );
        if (now.rows[0].h !== expected.rows[0].h)
          throw new Error(`${op}: the table is not back to its prior state`);
      }
      await pool.query(`VACUUM ANALYZE ${TABLE}`);
      log(`rep ${rep}/${REPS}`);
    }
    const rows = variants.flatMap((v) =>
      ops.map((op) => {
        const s = samples.get(`${v.name}\u0000${op}`)!;
        return [
          ...(BASELINE ? [v.name] : []),
          op,
          range(spread(s.map((x) => x.original)), 0),
          range(spread(s.map((x) => x.plan)), 0),
          range(spread(s.map((x) => x.apply)), 0),
          range(spread(s.map((x) => (x.plan + x.apply) / x.original)), 2),
          range(spread(s.map((x) => x.apply / x.original)), 2),
        ];
      }),
    );
    process.stdout.write(
      section(
        `Revert of a ${num(ROWS)}-row bulk statement with capture (target: revert ÷ original ≤ 3)`,
        `${REPS} repetitions, operations${BASELINE ? ` and builds (baseline: ${BASELINE})` : ''} interleaved in shuffled order; median [min-max] in ms; every revert verified to restore the table exactly.\nrevert = tl.revert.plan + tl.revert.apply (one transaction, set-based batches of 1000, rows locked FOR UPDATE and compared first)`,
        table(
          [
            ...(BASELINE ? ['build'] : []),
            'op',
            'original ms',
            'plan ms',
            'apply ms',
            'revert ÷ original',
            'apply ÷ original',
          ],
          rows,
        ),
      ),
    );
  } finally {
    await pool.end();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.end();
  }
}

await runOrExit(main);
