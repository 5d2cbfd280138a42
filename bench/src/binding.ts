/**
 * Where the per-transaction cost of context binding goes (`npm run bench:binding`). One client per
 * variant, a table without triggers (no capture, so only binding and protocol differ), single-row
 * INSERT transactions; the variants alternate in blocks in shuffled order and each prints µs per
 * transaction and its ratio to plain node-postgres. Variants h-l: tl.query outside a transaction
 * (a read, a write and a CALL in a context, and a read without one), the statements the attribution rule
 * decides about; `--baseline-core PATH` adds the same tl.query variants run by another build of
 * @threadline/core (e.g. main's packages/core/dist/index.js), side by side in the same run.
 */
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import pg from 'pg';
import { log } from './db.js';
import { runOrExit } from './entry.js';
import { intFlag } from './flags.js';
import { num, range, section, table } from './print.js';
import { prng, shuffle, spread } from './stats.js';

const url = process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => intFlag(args, name, fallback);
const BLOCK = flag('block', 250);
const baselineAt = args.indexOf('--baseline-core');
const BASELINE_CORE = baselineAt >= 0 ? args[baselineAt + 1] : undefined;
const REPS = Math.max(3, flag('reps', 12));
const TABLE = `tl_binding_bench_${process.pid}`;
const INSERT = `INSERT INTO ${TABLE} (v) VALUES ($1)`;
const READ = `SELECT v FROM ${TABLE} WHERE id = $1`;
const CALL = `CALL ${TABLE}_insert($1)`;
const ACTOR = JSON.stringify({ type: 'user', id: '7' });
const CONTEXT = JSON.stringify({ correlationId: 'bench' });
const BIND_LITERAL = `SELECT set_config('threadline.actor_ref', '${ACTOR}', true), set_config('threadline.context', '${CONTEXT}', true)`;
const FINISH = "SELECT current_setting('threadline.transaction', true), txid_current_if_assigned()";

type Variant = { name: string; what: string; run: () => Promise<unknown> };

async function main(): Promise<void> {
  const connect = async () => {
    const client = new pg.Client(url);
    await client.connect();
    return client;
  };
  const admin = await connect();
  await admin.query(`CREATE TABLE ${TABLE} (id bigserial PRIMARY KEY, v text)`);
  await admin.query(
    `CREATE PROCEDURE ${TABLE}_insert(x text) LANGUAGE sql AS $$ INSERT INTO ${TABLE} (v) VALUES (x) $$`,
  );
  const clients: pg.Client[] = [];
  const client = async () => {
    const c = await connect();
    clients.push(c);
    return c;
  };
  try {
    const [a, b, c, d, e, h] = [
      await client(),
      await client(),
      await client(),
      await client(),
      await client(),
      await client(),
    ];
    const tlWith = createThreadline({ db: await client() });
    const tlWithout = createThreadline({ db: await client() });
    const ctx = { actor: ActorRef.user('7'), correlationId: 'bench' };
    const variants: Variant[] = [
      {
        name: 'a plain',
        what: 'BEGIN; INSERT; COMMIT (three round trips)',
        run: async () => {
          await a.query('BEGIN');
          await a.query(INSERT, ['x']);
          await a.query('COMMIT');
        },
      },
      {
        name: 'b +finish',
        what: 'as a, COMMIT sent as "finishing SELECT; COMMIT"',
        run: async () => {
          await b.query('BEGIN');
          await b.query(INSERT, ['x']);
          await b.query(`${FINISH}; COMMIT`);
        },
      },
      {
        name: 'c +binding',
        what: 'as a, BEGIN sent as "BEGIN; binding" (literal values, simple protocol)',
        run: async () => {
          await c.query(`BEGIN; ${BIND_LITERAL}`);
          await c.query(INSERT, ['x']);
          await c.query('COMMIT');
        },
      },
      {
        name: 'd +SELECT 1',
        what: 'as a, BEGIN sent as "BEGIN; SELECT 1" (any extra statement)',
        run: async () => {
          await d.query('BEGIN; SELECT 1');
          await d.query(INSERT, ['x']);
          await d.query('COMMIT');
        },
      },
      {
        name: 'e both, by hand',
        what: 'c and b together, inside runWithAuditContext',
        run: () =>
          runWithAuditContext(ctx, async () => {
            await e.query(`BEGIN; ${BIND_LITERAL}`);
            await e.query(INSERT, ['x']);
            await e.query(`${FINISH}; COMMIT`);
          }),
      },
      {
        name: 'f tl, no context',
        what: 'tl.transaction outside any context (no binding; finishing SELECT)',
        run: () => tlWithout.transaction((tx) => tx.query(INSERT, ['x'])),
      },
      {
        name: 'g tl, context',
        what: 'tl.transaction in a context (BEGIN + bound binding pipelined; finishing SELECT)',
        run: () => runWithAuditContext(ctx, () => tlWith.transaction((tx) => tx.query(INSERT, ['x']))),
      },
      {
        name: 'h read, plain',
        what: 'node-postgres client.query(SELECT by key) (one round trip)',
        run: () => h.query(READ, [1]),
      },
      {
        name: 'i tl.query read',
        what: 'tl.query(SELECT) outside any context (as h)',
        run: () => tlWithout.query(READ, [1]),
      },
      {
        name: 'j tl.query read, ctx',
        what: 'tl.query(SELECT) in a context: binding + SELECT pipelined, one round trip',
        run: () => runWithAuditContext(ctx, () => tlWith.query(READ, [1])),
      },
      {
        name: 'k tl.query write, ctx',
        what: 'tl.query(INSERT) in a context: binding + INSERT pipelined, one round trip',
        run: () => runWithAuditContext(ctx, () => tlWith.query(INSERT, ['x'])),
      },
      {
        name: 'l tl.query call, ctx',
        what: 'tl.query(CALL p) in a context: BEGIN, binding, CALL, COMMIT pipelined, one round trip',
        run: () => runWithAuditContext(ctx, () => tlWith.query(CALL, ['x'])),
      },
    ];
    if (BASELINE_CORE) {
      const base = (await import(BASELINE_CORE)) as typeof import('@threadline/core');
      const baseWith = base.createThreadline({ db: await client() });
      variants.push(
        {
          name: 'j0 read, ctx, baseline',
          what: `j with ${BASELINE_CORE}`,
          run: () => runWithAuditContext(ctx, () => baseWith.query(READ, [1])),
        },
        {
          name: 'k0 write, ctx, baseline',
          what: `k with ${BASELINE_CORE}`,
          run: () => runWithAuditContext(ctx, () => baseWith.query(INSERT, ['x'])),
        },
        {
          name: 'l0 call, ctx, baseline',
          what: `l with ${BASELINE_CORE}`,
          run: () => runWithAuditContext(ctx, () => baseWith.query(CALL, ['x'])),
        },
      );
    }
    const random = prng(42);
    const perRep = new Map(variants.map((v) => [v.name, [] as number[]]));
    for (const v of variants) for (let i = 0; i < 50; i++) await v.run(); // warm-up
    for (let rep = 1; rep <= REPS; rep++) {
      for (const v of shuffle(variants, random)) {
        const started = process.hrtime.bigint();
        for (let i = 0; i < BLOCK; i++) await v.run();
        perRep.get(v.name)!.push(Number(process.hrtime.bigint() - started) / BLOCK / 1000);
      }
      log(`rep ${rep}/${REPS}`);
    }
    const plain = perRep.get('a plain')!;
    const rows = variants.map((v) => {
      const us = perRep.get(v.name)!;
      return [
        v.name,
        range(spread(us), 0),
        range(spread(us.map((x, i) => x - plain[i]!)), 0),
        range(spread(us.map((x, i) => x / plain[i]!)), 2),
        v.what,
      ];
    });
    process.stdout.write(
      `${section(
        'Binding cost breakdown: single-row INSERT transactions, one client per variant, no triggers',
        `${REPS} repetitions of ${BLOCK} transactions per variant, shuffled; median [min-max] over repetitions.\nserver: ${url.replace(/\/\/[^@]*@/, '//')}; ${num(REPS * BLOCK)} transactions per variant`,
        table(['variant', 'µs/txn', '+µs vs a', 'ratio to a', 'what it sends'], rows),
      )}`,
    );
  } finally {
    for (const c of clients) await c.end().catch(() => undefined);
    await admin.query(`DROP PROCEDURE IF EXISTS ${TABLE}_insert(text)`);
    await admin.query(`DROP TABLE IF EXISTS ${TABLE}`);
    await admin.end();
  }
}

await runOrExit(main);
