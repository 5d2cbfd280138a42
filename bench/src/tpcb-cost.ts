/**
 * The CPU cost of one TPC-B transaction per variant, isolated from round trips and commit flushes:
 * a server-side procedure per variant runs BLOCK of pgbench's tpcb-like transactions (binding,
 * three single-row UPDATEs, a SELECT, an INSERT into pgbench_history, COMMIT) with
 * synchronous_commit off, timed by the server process's on-CPU time where it can be read
 * (/proc/<pid>/schedstat: a loaded machine delays the process without adding to it). Blocks of the variants alternate in shuffled order; the figure is the
 * median µs per transaction over repetitions, and the extra µs over `bound` (the binding alone).
 * Variants, each on its own copy of pgbench's tables:
 * Each in schema v_<variant>:
 *   plain   - the script as is;            bound   - plus the binding statement;
 *   capture - binding + Threadline capture on the four tables;
 *   capture_sets - the same, the capture functions given back the six SET clauses they carried
 *             before this round (search_path, jit, enable_nestloop, enable_mergejoin, work_mem,
 *             TimeZone): what those clauses cost, side by side;
 *   noop    - binding + an empty BEFORE STATEMENT and an empty AFTER STATEMENT trigger with
 *             transition tables per table (the trigger machinery alone);
 *   anchor  - binding + the anchor's AFTER ROW triggers (anchor.ts).
 *
 * With --baseline-core PATH (another build of @threadline/core, e.g. main's packages/core), a second
 * database gets that build's capture (variant `baseline`), run in the same alternation on its own
 * connection: before and after side by side.
 *
 * With --mask, every captured table masks its `filler` column (capture with redaction configured;
 * the baseline too).
 *
 *   pnpm --filter @threadline/bench run tpcb-cost -- [--reps N] [--blocks N] [--baseline-core PATH] [--mask]
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createThreadline } from '@threadline/core';
import type pg from 'pg';
import { ANCHOR_SQL, anchorTriggerSql } from './anchor.js';
import { BenchDb, log } from './db.js';
import { runWithBenchDb } from './entry.js';
import { num, range, table } from './print.js';
import { median, prng, shuffle, spread } from './stats.js';
import { TPCB_KEYS, TPCB_TABLES, tpcbTablesSql, tpcbVacuumSql } from './tpcb-schema.js';

const BLOCK = 100;
const SCALE = 1;
const LOCAL = ['plain', 'bound', 'capture', 'capture_sets', 'noop', 'anchor'] as const;
type Variant = (typeof LOCAL)[number] | 'baseline';
const OLD_SETS =
  "SET search_path = pg_catalog, pg_temp SET jit = off SET enable_nestloop = off SET enable_mergejoin = off SET work_mem = '64MB' SET TimeZone = 'UTC'";

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    reps: { type: 'string' },
    blocks: { type: 'string' },
    url: { type: 'string' },
    'baseline-core': { type: 'string' },
    mask: { type: 'boolean' },
  },
});
const reps = Number(values.reps ?? 5);
const blocks = Number(values.blocks ?? 4);
const url = values.url ?? process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const baselineCore = values['baseline-core'];
const VARIANTS: Variant[] = baselineCore ? [...LOCAL, 'baseline'] : [...LOCAL];
/** Capture options of the captured tables of schema `s` (--mask: `filler` masked). */
const tablesOf = (...schemas: string[]) =>
  Object.fromEntries(
    schemas.flatMap((s) => TPCB_TABLES.map((t) => [`${s}.${t}`, values.mask ? { mask: ['filler'] } : {}])),
  );

/** The procedure running n TPC-B transactions on schema `s` (committing each). */
function procedureSql(v: Variant): string {
  const s = v === 'baseline' ? 'v_capture' : `v_${v}`;
  const bind =
    v === 'plain'
      ? ''
      : `PERFORM set_config('threadline.actor_ref', '{"type":"user","id":"7"}', true), set_config('threadline.context', '{"correlationId":"bench-cost"}', true);`;
  return `CREATE PROCEDURE ${s}.tx_loop(n int) LANGUAGE plpgsql AS $p$
DECLARE x_aid int; x_bid int; x_tid int; x_delta int; x_bal int;
BEGIN
  FOR i IN 1..n LOOP
    x_aid := 1 + floor(random() * ${100_000 * SCALE}); x_bid := 1 + floor(random() * ${SCALE});
    x_tid := 1 + floor(random() * ${10 * SCALE}); x_delta := floor(random() * 10001) - 5000;
    ${bind}
    UPDATE ${s}.pgbench_accounts SET abalance = abalance + x_delta WHERE aid = x_aid;
    SELECT abalance INTO x_bal FROM ${s}.pgbench_accounts WHERE aid = x_aid;
    UPDATE ${s}.pgbench_tellers SET tbalance = tbalance + x_delta WHERE tid = x_tid;
    UPDATE ${s}.pgbench_branches SET bbalance = bbalance + x_delta WHERE bid = x_bid;
    INSERT INTO ${s}.pgbench_history (tid, bid, aid, delta, mtime) VALUES (x_tid, x_bid, x_aid, x_delta, CURRENT_TIMESTAMP);
    COMMIT;
  END LOOP;
END $p$`;
}

/** On-CPU time of a server process in ms (Linux, server on this host), else wall-clock time. */
async function cpuClock(c: pg.Client): Promise<{ onCpu: boolean; now: () => number }> {
  const pid = Number((await c.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
  const stat = `/proc/${pid}/schedstat`;
  const onCpu = existsSync(stat);
  return {
    onCpu,
    now: () => (onCpu ? Number(readFileSync(stat, 'utf8').split(' ')[0]) / 1e6 : performance.now()),
  };
}

/** The baseline build's capture on pgbench's tables in a database of its own. */
async function setupBaseline(db: BenchDb, path: string): Promise<pg.Client> {
  const core = (await import(pathToFileURL(join(path, 'dist', 'index.js')).href)) as {
    createThreadline: typeof createThreadline;
  };
  await db.create();
  const c = db.sql;
  await c.query(tpcbTablesSql('v_capture', SCALE));
  await c.query(tpcbVacuumSql('v_capture'));
  await c.query(procedureSql('baseline'));
  const tl = core.createThreadline({ db: c, tables: tablesOf('v_capture') });
  await tl.install();
  await tl.installTriggers({ tables: TPCB_TABLES.map((t) => `v_capture.${t}`) });
  await c.query('SET synchronous_commit = off');
  return c;
}

const baseDb = baselineCore ? new BenchDb(url) : undefined;
await runWithBenchDb(
  url,
  async (db) => {
    await db.create();
    const c = db.sql;
    await c.query(ANCHOR_SQL);
    for (const v of LOCAL) {
      await c.query(tpcbTablesSql(`v_${v}`, SCALE));
      await c.query(tpcbVacuumSql(`v_${v}`));
      await c.query(procedureSql(v));
    }
    await c.query(
      `CREATE FUNCTION v_noop.noop() RETURNS trigger LANGUAGE plpgsql AS $f$ BEGIN RETURN NULL; END $f$`,
    );
    for (const t of TPCB_TABLES) {
      await c.query(anchorTriggerSql(`v_anchor.${t}`, [TPCB_KEYS[t]!]));
      await c.query(`CREATE TRIGGER s BEFORE INSERT OR UPDATE OR DELETE ON v_noop.${t} FOR EACH STATEMENT EXECUTE FUNCTION v_noop.noop();
      CREATE TRIGGER u AFTER UPDATE ON v_noop.${t} REFERENCING OLD TABLE AS o NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION v_noop.noop();
      CREATE TRIGGER i AFTER INSERT ON v_noop.${t} REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION v_noop.noop();`);
    }
    const tl = createThreadline({ db: c, tables: tablesOf('v_capture', 'v_capture_sets') });
    await tl.install();
    await tl.installTriggers({ tables: TPCB_TABLES.map((t) => `v_capture.${t}`) });
    for (const p of await tl.installTriggers({ tables: TPCB_TABLES.map((t) => `v_capture_sets.${t}`) })) {
      await c.query(`ALTER FUNCTION threadline.${p.functionName}() ${OLD_SETS}`);
    }
    await c.query('SET synchronous_commit = off');
    const base = baseDb && baselineCore ? await setupBaseline(baseDb, baselineCore) : undefined;
    const clocks = { local: await cpuClock(c), base: base ? await cpuClock(base) : undefined };
    const onCpu = clocks.local.onCpu;
    const run = async (v: Variant, n: number): Promise<number> => {
      const [client, clock] = v === 'baseline' ? [base!, clocks.base!] : [c, clocks.local];
      const t0 = clock.now();
      await client.query(`CALL ${v === 'baseline' ? 'v_capture' : `v_${v}`}.tx_loop(${n})`);
      return clock.now() - t0;
    };
    const random = prng(11);
    const perRep = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
    for (const v of VARIANTS) await run(v, 20); // warm-up: plans, caches
    for (let rep = 1; rep <= reps; rep++) {
      const total = Object.fromEntries(VARIANTS.map((v) => [v, 0])) as Record<Variant, number>;
      for (let b = 0; b < blocks; b++) {
        for (const v of shuffle(VARIANTS, random)) {
          total[v] += await run(v, BLOCK);
        }
      }
      for (const v of VARIANTS) perRep[v].push((total[v] * 1000) / (BLOCK * blocks));
      log(
        `rep ${rep}/${reps}: ${VARIANTS.map((v) => `${v} ${perRep[v][rep - 1]!.toFixed(0)} us`).join(', ')}`,
      );
    }
    const extra = (v: Variant) => spread(perRep[v].map((x, i) => x - perRep.bound[i]!));
    const kept = (v: Variant) => spread(perRep.plain.map((x, i) => x / perRep[v][i]!));
    const ratio = (a: Variant, b: Variant) => spread(perRep[a].map((x, i) => x / perRep[b][i]!));
    const ratios = [
      `capture / anchor (CPU per transaction): ${range(ratio('capture', 'anchor'))}`,
      ...(baselineCore
        ? [`capture / baseline (${baselineCore}): ${range(ratio('capture', 'baseline'))}`]
        : []),
    ];
    process.stdout.write(
      `${[
        `TPC-B transaction CPU cost: ${reps} repetitions x ${blocks} blocks of ${BLOCK} transactions per variant, server-side, synchronous_commit off, ${onCpu ? 'on-CPU time of the server process' : 'wall-clock time'}${values.mask ? ', filler masked' : ''}`,
        table(
          ['variant', 'us/transaction (median)', 'extra us over bound', 'plain/variant (throughput kept)'],
          VARIANTS.map((v) => [v, num(median(perRep[v]), 0), range(extra(v), 0), range(kept(v))]),
        ),
        ...ratios,
      ].join('\n')}\n`,
    );
    await baseDb?.drop();
  },
  () => void baseDb?.drop(),
);
