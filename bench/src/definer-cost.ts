/**
 * The per-statement cost of SECURITY DEFINER on capture functions (issue 12), isolated from
 * round trips and commits: one server-side loop of single-row UPDATE statements, in one
 * transaction, on three copies of a table: plain (no capture), definer (capture as installed)
 * and invoker (the same generated functions as SECURITY INVOKER, as before issue 12). Blocks of
 * BLOCK statements alternate in shuffled order; each repetition is its own transaction (rolled
 * back). Prints µs per statement (median over repetitions) and the per-repetition ratios.
 * Three more copies carry an empty AFTER STATEMENT plpgsql trigger: without SET clauses (noop),
 * with capture's SET clauses (noop_set), and with them plus SECURITY DEFINER (noop_set_definer),
 * which separate what the SET clauses and the definer switch cost per call.
 *
 *   pnpm --filter @threadline/bench exec tsx src/definer-cost.ts [--reps N] [--blocks N]
 */
import { parseArgs } from 'node:util';
import { createThreadline } from '@threadline/core';
import { log } from './db.js';
import { runWithBenchDb } from './entry.js';
import { num, range, table } from './print.js';
import { median, prng, shuffle, spread } from './stats.js';

const BLOCK = 200;
const VARIANTS = ['plain', 'definer', 'invoker', 'noop', 'noop_set', 'noop_set_definer'] as const;
/** The SET clauses every generated capture function carries (capture-generator.ts). */
const CAPTURE_SETS =
  "SET search_path = pg_catalog, pg_temp SET jit = off SET enable_nestloop = off SET enable_mergejoin = off SET work_mem = '64MB' SET TimeZone = 'UTC'";
type Variant = (typeof VARIANTS)[number];

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: { reps: { type: 'string' }, blocks: { type: 'string' }, url: { type: 'string' } },
});
const reps = Number(values.reps ?? 7);
const blocks = Number(values.blocks ?? 10);
const url = values.url ?? process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

await runWithBenchDb(url, async (db) => {
  await db.create();
  const c = db.sql;
  for (const v of VARIANTS) {
    await c.query(`CREATE TABLE public.t_${v} (id int PRIMARY KEY, n int NOT NULL, note text) WITH (autovacuum_enabled = off);
      INSERT INTO public.t_${v} SELECT g, 0, 'row ' || g FROM generate_series(1, ${BLOCK}) g;`);
  }
  for (const [v, extra] of [
    ['noop', ''],
    ['noop_set', CAPTURE_SETS],
    ['noop_set_definer', `SECURITY DEFINER ${CAPTURE_SETS}`],
  ] as const) {
    await c.query(`CREATE FUNCTION public.${v}() RETURNS trigger LANGUAGE plpgsql ${extra} AS $f$ BEGIN RETURN NULL; END $f$;
      CREATE TRIGGER ${v} AFTER UPDATE ON public.t_${v} REFERENCING OLD TABLE AS o NEW TABLE AS n
        FOR EACH STATEMENT EXECUTE FUNCTION public.${v}();`);
  }
  const tl = createThreadline({ db: c });
  await tl.install();
  await tl.installTriggers({ tables: ['public.t_definer'] });
  const [inv] = await tl.installTriggers({ tables: ['public.t_invoker'] });
  await c.query(`ALTER FUNCTION threadline.${inv!.functionName}() SECURITY INVOKER`);
  await c.query(`VACUUM ANALYZE ${VARIANTS.map((v) => `public.t_${v}`).join(', ')}`);
  const random = prng(7);
  const perRep = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
  for (let rep = 1; rep <= reps; rep++) {
    const order = Array.from({ length: blocks }, () => shuffle(VARIANTS, random)).flat();
    const results = (await c.query(
      `BEGIN;
       SELECT set_config('threadline.actor_ref', '{"type":"user","id":"7"}', true);
       CREATE TEMP TABLE tl_timing (v text, us float8) ON COMMIT DROP;
       DO $do$
       DECLARE t0 timestamptz; v text; i int;
       BEGIN
         FOREACH v IN ARRAY ${`'{${order.join(',')}}'::text[]`} LOOP
           t0 := clock_timestamp();
           FOR i IN 1..${BLOCK} LOOP
             EXECUTE format('UPDATE public.%I SET n = n + 1 WHERE id = $1', 't_' || v) USING i;
           END LOOP;
           INSERT INTO tl_timing VALUES (v, extract(epoch FROM clock_timestamp() - t0) * 1e6 / ${BLOCK});
         END LOOP;
       END
       $do$;
       SELECT v, sum(us) / count(*) AS us FROM tl_timing GROUP BY v;`,
    )) as unknown as { rows: { v: Variant; us: number }[] }[];
    const rows = results[results.length - 1]!.rows;
    await c.query('ROLLBACK');
    for (const r of rows) perRep[r.v].push(Number(r.us));
    log(`rep ${rep}/${reps}: ${rows.map((r) => `${r.v} ${Number(r.us).toFixed(1)} us`).join(', ')}`);
  }
  const ratio = (a: Variant, b: Variant) => spread(perRep[a].map((x, i) => x / perRep[b][i]!));
  const extra = (a: Variant, b: Variant) => spread(perRep[a].map((x, i) => x - perRep[b][i]!));
  process.stdout.write(
    `${[
      `SECURITY DEFINER per-statement cost: ${reps} repetitions x ${blocks} blocks of ${BLOCK} single-row UPDATEs per variant, one transaction, server-side loop`,
      table(
        ['variant', 'us/statement (median)'],
        VARIANTS.map((v) => [v, num(median(perRep[v]), 1)]),
      ),
      '',
      table(
        ['comparison', 'ratio median [min-max]', 'extra us/statement median [min-max]'],
        [
          ['definer / invoker', range(ratio('definer', 'invoker'), 3), range(extra('definer', 'invoker'), 1)],
          ['invoker / plain', range(ratio('invoker', 'plain')), range(extra('invoker', 'plain'), 1)],
          ['definer / plain', range(ratio('definer', 'plain')), range(extra('definer', 'plain'), 1)],
          [
            'empty trigger: SET clauses',
            range(ratio('noop_set', 'noop'), 3),
            range(extra('noop_set', 'noop'), 1),
          ],
          [
            'empty trigger: + SECURITY DEFINER',
            range(ratio('noop_set_definer', 'noop_set'), 3),
            range(extra('noop_set_definer', 'noop_set'), 1),
          ],
          ['empty trigger vs plain', range(ratio('noop', 'plain')), range(extra('noop', 'plain'), 1)],
        ],
      ),
    ].join('\n')}\n`,
  );
});
