/**
 * What attributing a write costs with @threadline/typeorm, on a real PostgreSQL server: one-row
 * INSERTs into a captured table, written with and without the adapter, variants interleaved in
 * a rotating order per round. Run: `pnpm --filter @threadline/typeorm bench [-- --writes 200 --rounds 21]`
 * (build @threadline/core first). Uses TL_PG_URL (default postgres://postgres@127.0.0.1:5432/postgres).
 */
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { createTestDatabase } from '@threadline/test-utils';
import { DataSource, EntitySchema } from 'typeorm';
import { attachThreadline } from '../src/index.js';

const arg = (name: string, fallback: number) => {
  const at = process.argv.indexOf(`--${name}`);
  return at > 0 ? Number(process.argv[at + 1]) : fallback;
};
const WRITES = arg('writes', 200);
const ROUNDS = arg('rounds', 21);
// Every variant commits once per write; the WAL flush of that commit is the same for all of them
// and dominates the noise, so it is off unless --sync 1 is given.
const SYNC = arg('sync', 0) === 1;
const ctx = { actor: ActorRef.user('bench'), requestId: 'req-bench', correlationId: 'corr-bench' };
const Item = new EntitySchema<{ id: number; note: string }>({
  name: 'Item',
  tableName: 'items',
  columns: { id: { type: Number, primary: true }, note: { type: String } },
});

const db = await createTestDatabase('tl_bench_typeorm');
try {
  const tl = createThreadline({ db: db.pool });
  await tl.install();
  await db.pool.query('create table items (id int primary key, note text)');
  await tl.installTriggers({ tables: ['items'] });
  await db.pool.query(`alter database "${db.name}" set synchronous_commit = ${SYNC ? 'on' : 'off'}`);
  const open = () => new DataSource({ type: 'postgres', url: db.url, poolSize: 1, entities: [Item] });
  const plain = await open().initialize();
  const attached = await attachThreadline(open(), { threadline: tl }).initialize();
  let id = 0;
  const row = () => ({ id: ++id, note: 'x' });
  const inContext = (fn: () => Promise<unknown>) => () => runWithAuditContext(ctx, fn);
  const insert = (ds: DataSource) => () => ds.getRepository(Item).insert(row());
  const save = (ds: DataSource) => () => ds.getRepository(Item).save(row());
  const variants: [string, () => Promise<unknown>][] = [
    ['repository.insert, no adapter (baseline)', inContext(insert(plain))],
    ['repository.insert, adapter, no context', insert(attached)],
    ['repository.insert, adapter, in context', inContext(insert(attached))],
    ['repository.save (own transaction), no adapter', inContext(save(plain))],
    ['repository.save (own transaction), adapter', inContext(save(attached))],
  ];
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round <= ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = (k + round) % variants.length;
      const started = process.hrtime.bigint();
      for (let i = 0; i < WRITES; i++) await variants[v]![1]();
      const perWrite = Number(process.hrtime.bigint() - started) / 1000 / WRITES;
      if (round > 0) times[v]!.push(perWrite); // round 0 warms up
    }
  }
  // The median round, and the best round (the least disturbed by other load on the machine).
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const best = (xs: number[]) => Math.min(...xs);
  const base = median(times[0]!);
  const baseBest = best(times[0]!);
  const { version } = (await import('typeorm/package.json', { with: { type: 'json' } })).default;
  console.log(
    `typeorm ${version}: ${WRITES} writes x ${ROUNDS} rounds, pool of 1, synchronous_commit ${SYNC ? 'on' : 'off'}, µs per write (median round | best round)`,
  );
  const fmt = (m: number, b: number) =>
    `${m.toFixed(1).padStart(7)} µs x${(m / b).toFixed(2)} +${(m - b).toFixed(0).padStart(4)}`;
  for (const [v, [name]] of variants.entries()) {
    console.log(`${name.padEnd(46)} ${fmt(median(times[v]!), base)} | ${fmt(best(times[v]!), baseBest)}`);
  }
  const { rows } = await db.pool.query(
    `select count(*)::int as n from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
      where t.actor_ref->>'id' = 'bench'`,
  );
  console.log(`attributed writes: ${rows[0].n} (expected ${2 * WRITES * (ROUNDS + 1)})`);
  await plain.destroy();
  await attached.destroy();
} finally {
  await db.drop();
}
