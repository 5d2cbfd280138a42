// `npm run test:load` (SPEC §13, issue 12): 10,000 requests across the Express, Hono and NestJS
// example services and their BullMQ worker, 50 at a time, each service on a pool of 5, all through
// PgBouncer in transaction mode. Every request is made by its own user; afterwards every audit row
// is compared with the user its row belongs to (0 mis-attributed) and every answered request with
// its audit rows (0 lost). Each service's memory after GC is read after a warm-up and after the
// run: it must stay within 10 % (no context leak). Exits 1 when a check fails.
import { randomBytes } from 'node:crypto';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type Service, startServices } from '@threadline/example-shared/testing';
import { createTestDatabase, REDIS_URL, redisConnection, startPgBouncer } from '@threadline/test-utils';
import { Queue } from 'bullmq';

const TOTAL = Number(process.env.LOAD_REQUESTS ?? 10_000);
const WARMUP = Number(process.env.LOAD_WARMUP ?? 1_500);
const CONCURRENCY = 50;
const POOL = 5;
const MEMORY_TOLERANCE = 0.1;

const dir = (example: string) => fileURLToPath(new URL(`../../${example}`, import.meta.url));
const probe = pathToFileURL(fileURLToPath(new URL('./memory-probe.mjs', import.meta.url))).href;
const node = (...entry: string[]) => ['--expose-gc', '--import', probe, ...entry];
const tsx = (file: string) => node('--import', 'tsx', file);
const listening = /listening on (http:\S+)/;

type Kind = 'order' | 'ticket' | 'invoice';
/** Audit rows each kind of request leads to: order insert, its shipping update and shipment insert (the job); ticket and first message; the invoice. */
const EXPECTED_ROWS: Record<Kind, number> = { order: 3, ticket: 2, invoice: 1 };
const KINDS: Kind[] = ['order', 'ticket', 'invoice'];

interface Sent {
  user: string;
  kind: Kind;
  status: number;
  ms: number;
}

const db = await createTestDatabase('tl_load');
const bouncer = await startPgBouncer(db.url, 10);
if (!bouncer) throw new Error('the load run needs pgbouncer (apt-get install -y pgbouncer)');
const prefix = `tl-load-${randomBytes(4).toString('hex')}`;
const env = {
  DATABASE_URL: bouncer.url,
  DATABASE_POOL_MAX: String(POOL),
  REDIS_URL,
  BULLMQ_PREFIX: prefix,
  PORT: '0',
};
const services: Service[] = [];
let failed = false;
const check = (ok: boolean, what: string) => {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
  if (!ok) failed = true;
};

try {
  // One at a time: each migrates the shared schema at start-up.
  for (const s of [
    {
      name: 'billing (NestJS)',
      cwd: dir('nestjs-typeorm'),
      args: node('dist/main.js'),
      env,
      ready: listening,
    },
    { name: 'support (Hono)', cwd: dir('hono-pg'), args: tsx('src/server.ts'), env, ready: listening },
    {
      name: 'orders (Express)',
      cwd: dir('express-knex-bullmq'),
      args: tsx('src/api.ts'),
      env,
      ready: listening,
    },
    {
      name: 'fulfilment worker (BullMQ)',
      cwd: dir('express-knex-bullmq'),
      args: tsx('src/worker.ts'),
      env,
      ready: /worker ready/,
    },
  ])
    services.push(...(await startServices([s])));
  const [billing, support, orders] = services as [Service, Service, Service, Service];

  const send = async (i: number): Promise<Sent> => {
    const user = `load${i}`;
    const kind = KINDS[i % 3]!;
    const [url, body] =
      kind === 'order'
        ? [`${orders.url}/orders`, { sku: 'mug', quantity: 1, shippingAddress: `${i} Main St` }]
        : kind === 'ticket'
          ? [`${support.url}/tickets`, { subject: `s${i}`, body: `b${i}` }]
          : [`${billing.url}/invoices`, { orderId: 1_000_000 + i, amountCents: 100 + i }];
    const started = performance.now();
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-user-id': user },
      body: JSON.stringify(body),
    }).catch(() => null);
    await res?.arrayBuffer();
    return { user, kind, status: res?.status ?? 0, ms: performance.now() - started };
  };
  const run = async (from: number, count: number): Promise<Sent[]> => {
    const sent: Sent[] = [];
    let next = from;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < from + count) sent.push(await send(next++));
      }),
    );
    return sent;
  };
  const ordersPlaced = (sent: Sent[]) => sent.filter((s) => s.kind === 'order' && s.status === 201).length;
  const drain = async (placed: number) => {
    const deadline = Date.now() + 300_000;
    for (;;) {
      const { rows } = await db.pool.query('select count(*)::int as n from orders.shipments');
      if (rows[0].n >= placed) return;
      if (Date.now() > deadline) throw new Error(`only ${rows[0].n} of ${placed} orders shipped`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const memory = async () => {
    const out: Record<string, { rss: number; heapUsed: number }> = {};
    for (const s of services) {
      const before = s.output().split('TL_MEMORY ').length;
      process.kill(s.pid, 'SIGWINCH');
      while (s.output().split('TL_MEMORY ').length === before) await new Promise((r) => setTimeout(r, 20));
      const last = s.output().split('TL_MEMORY ').at(-1)!.split('\n')[0]!;
      out[s.name] = JSON.parse(last);
    }
    return out;
  };

  const warm = await run(0, WARMUP);
  await drain(ordersPlaced(warm));
  const memWarm = await memory();

  const t0 = performance.now();
  const main = await run(WARMUP, TOTAL);
  const seconds = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  const all = [...warm, ...main];
  await drain(ordersPlaced(all));
  const drainSeconds = (performance.now() - t1) / 1000;
  for (const s of services) {
    try {
      process.kill(s.pid, 0);
    } catch {
      throw new Error(`${s.name} is no longer running`);
    }
  }
  const memAfter = await memory();

  // Figures.
  const ms = main.map((s) => s.ms).sort((a, b) => a - b);
  const pct = (p: number) => ms[Math.min(ms.length - 1, Math.floor((p / 100) * ms.length))]!.toFixed(1);
  console.log(
    `\n${TOTAL} requests (after ${WARMUP} warm-up) at ${CONCURRENCY}-way concurrency, pools of ${POOL}, through PgBouncer (transaction mode, server pool 10)`,
  );
  console.log(
    `  ${(TOTAL / seconds).toFixed(0)} requests/s over ${seconds.toFixed(1)} s; p50 ${pct(50)} ms, p99 ${pct(99)} ms; worker drained ${drainSeconds.toFixed(1)} s after the last answer`,
  );
  for (const kind of KINDS) {
    const k = main
      .filter((s) => s.kind === kind)
      .map((s) => s.ms)
      .sort((a, b) => a - b);
    console.log(
      `  ${kind}: ${k.length} requests, p50 ${k[Math.floor(k.length / 2)]!.toFixed(1)} ms, p99 ${k[Math.floor(k.length * 0.99)]!.toFixed(1)} ms`,
    );
  }
  console.log('  memory after GC (MB): after warm-up → after the run');
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  for (const s of services) {
    const [w, a] = [memWarm[s.name]!, memAfter[s.name]!];
    const heap = (a.heapUsed - w.heapUsed) / w.heapUsed;
    const rss = (a.rss - w.rss) / w.rss;
    console.log(
      `    ${s.name}: heapUsed ${mb(w.heapUsed)} → ${mb(a.heapUsed)} (${(heap * 100).toFixed(1)} %), rss ${mb(w.rss)} → ${mb(a.rss)} (${(rss * 100).toFixed(1)} %)`,
    );
    check(heap <= MEMORY_TOLERANCE, `${s.name}: heapUsed after GC within 10 % of after warm-up`);
    check(rss <= MEMORY_TOLERANCE, `${s.name}: rss within 10 % of after warm-up`);
  }

  // Checks: every answered request, every audit row.
  const answered = all.filter((s) => s.status === 201);
  check(answered.length === all.length, `${answered.length} of ${all.length} requests answered 201`);
  const { rows: misattributed } = await db.pool.query(`
    select c.table_schema, c.table_name, c.op, t.actor_ref->>'id' as actor, coalesce(c.data_after, c.data_before) as row
      from threadline.audit_changes c left join threadline.audit_transactions t on t.id = c.transaction_id
     where (t.actor_ref->>'id') is distinct from case c.table_name
             when 'shipments' then (select o.customer_id from orders.orders o where o.id = (c.data_after->>'order_id')::int)
             when 'messages' then coalesce(c.data_after, c.data_before)->>'author_id'
             else coalesce(c.data_after, c.data_before)->>'customer_id' end`);
  check(misattributed.length === 0, `0 mis-attributed audit rows (found ${misattributed.length})`);
  for (const row of misattributed.slice(0, 5)) console.log('   ', JSON.stringify(row));
  const { rows: perActor } = await db.pool.query<{ actor: string; n: number }>(
    `select t.actor_ref->>'id' as actor, count(*)::int as n
       from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
      where c.table_schema in ('orders', 'support', 'billing') group by 1`,
  );
  const counted = new Map(perActor.map((r) => [r.actor, r.n]));
  const lost = answered.filter((s) => counted.get(s.user) !== EXPECTED_ROWS[s.kind]);
  check(
    lost.length === 0,
    `0 lost: every request's ${'{order 3, ticket 2, invoice 1}'} audit rows carry its user (${lost.length} differ)`,
  );
  for (const s of lost.slice(0, 5))
    console.log(`    ${s.user} (${s.kind}): ${counted.get(s.user) ?? 0} rows`);
  const { rows: tables } = await db.pool.query<{ t: string; data: number; audit: number }>(`
    select t, data, (select count(*)::int from threadline.audit_changes c where c.table_schema || '.' || c.table_name = t and c.op = 'insert') as audit
      from (values ('orders.orders', (select count(*)::int from orders.orders)),
                   ('orders.shipments', (select count(*)::int from orders.shipments)),
                   ('support.tickets', (select count(*)::int from support.tickets)),
                   ('support.messages', (select count(*)::int from support.messages)),
                   ('billing.invoices', (select count(*)::int from billing.invoices))) as v(t, data)`);
  for (const r of tables) check(r.data === r.audit, `${r.t}: ${r.data} rows, ${r.audit} insert audit rows`);
} catch (error) {
  console.error(error);
  for (const s of services) console.error(`--- ${s.name}\n${s.output().slice(-2000)}`);
  failed = true;
} finally {
  await Promise.all(services.map((s) => s.stop()));
  const queue = new Queue('fulfilment', { connection: redisConnection(), prefix });
  await queue.obliterate({ force: true }).finally(() => queue.close());
  await bouncer.stop();
  await db.drop();
}
console.log(failed ? '\nload: FAILED' : '\nload: passed');
process.exit(failed ? 1 : 0);
