/**
 * What capture costs DDL (`npm run bench:ddl`): the same statements on an audited table and on an
 * identical unaudited one, side by side in one run, with the targets of issue 18:
 * - a metadata-only ALTER (SET STATISTICS, SET (fillfactor)) ≤ 3× the unaudited one;
 * - 100 ALTERs in one transaction ≤ 3× (metadata-only, and 100 ADD COLUMN);
 * - creating partitions one by one stays linear: the 300th ≤ 2× the 10th.
 * - ADD COLUMN is printed too, alone (autocommit) and 100 in one transaction (capture is regenerated
 *   once, at commit), and 100 × (ADD COLUMN + a write of the table), where every write must see
 *   the new column, so capture is regenerated 100 times (no target: the reference for that case).
 * Flags: --reps N (metadata ALTER and single ADD COLUMN repetitions, default 60), --batches N
 * (transactions of 100, default 5), --partitions N (default 300).
 */
import { createThreadline } from '@threadline/core';
import pg from 'pg';
import { log } from './db.js';
import { runWithBenchDb } from './entry.js';
import { intFlag } from './flags.js';
import { num, section, table } from './print.js';
import { median } from './stats.js';

const url = process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => intFlag(args, name, fallback);
const REPS = flag('reps', 60);
const PARTITIONS = Math.max(20, flag('partitions', 300));
const BATCHES = Math.max(1, flag('batches', 5));

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

const ratio = (a: number, b: number) => `${num(a / b, 2)}×`;

await runWithBenchDb(url, async (bdb) => {
  await bdb.create();
  const c = new pg.Client(bdb.url);
  await c.connect();
  try {
    const tables = { audited: 'ddl_audited', plain: 'ddl_plain' };
    for (const t of Object.values(tables)) {
      await c.query(`CREATE TABLE ${t} (id bigint PRIMARY KEY, v text, n int)`);
      await c.query(`INSERT INTO ${t} SELECT g, 'v' || g, g FROM generate_series(1, 1000) g`);
    }
    const tl = createThreadline({ db: c, tables: { [tables.audited]: {} } });
    await tl.install();
    await tl.installTriggers();
    log('installed; measuring metadata-only ALTERs');

    const meta: Record<string, number[]> = { audited: [], plain: [] };
    for (let i = 0; i < REPS; i += 1) {
      for (const [kind, t] of Object.entries(tables)) {
        const sql =
          i % 2 === 0
            ? `ALTER TABLE ${t} ALTER COLUMN v SET STATISTICS ${100 + (i % 50)}`
            : `ALTER TABLE ${t} SET (fillfactor = ${70 + (i % 30)})`;
        meta[kind]!.push(await timed(() => c.query(sql)));
      }
    }

    log('measuring one ADD COLUMN per transaction (autocommit)');
    const single: Record<string, number[]> = { audited: [], plain: [] };
    for (let i = 0; i < REPS; i += 1) {
      for (const [kind, t] of Object.entries(tables)) {
        single[kind]!.push(await timed(() => c.query(`ALTER TABLE ${t} ADD COLUMN s${i} int`)));
      }
    }

    log('measuring 100 ALTERs in one transaction (committed: regeneration deferred to commit is counted)');
    // Each batch on fresh tables, committed: a ROLLBACK would skip what runs at COMMIT.
    const fresh = async (name: string, audited: boolean) => {
      await c.query(`CREATE TABLE ${name} (id bigint PRIMARY KEY, v text, n int)`);
      await c.query(`INSERT INTO ${name} SELECT g, 'v' || g, g FROM generate_series(1, 1000) g`);
      if (audited) await createThreadline({ db: c, tables: { [name]: {} } }).installTriggers();
    };
    const batch = async (make: (i: number) => string[]) =>
      timed(async () => {
        await c.query('BEGIN');
        for (let i = 0; i < 100; i += 1) for (const sql of make(i)) await c.query(sql);
        await c.query('COMMIT');
      });
    const batchMeta: Record<string, number[]> = { audited: [], plain: [] };
    const batchAdd: Record<string, number[]> = { audited: [], plain: [] };
    const batchAddWrite: Record<string, number[]> = { audited: [], plain: [] };
    for (let r = 0; r < BATCHES; r += 1) {
      for (const [kind, t] of Object.entries(tables)) {
        batchMeta[kind]!.push(
          await batch((i) => [`ALTER TABLE ${t} ALTER COLUMN n SET STATISTICS ${200 + i}`]),
        );
        const b = `${t}_b${r}`;
        await fresh(b, kind === 'audited');
        batchAdd[kind]!.push(await batch((i) => [`ALTER TABLE ${b} ADD COLUMN c${i} int`]));
        const w = `${t}_w${r}`;
        await fresh(w, kind === 'audited');
        batchAddWrite[kind]!.push(
          await batch((i) => [
            `ALTER TABLE ${w} ADD COLUMN c${i} int`,
            `UPDATE ${w} SET c${i} = 1 WHERE id = 1`,
          ]),
        );
      }
    }

    log(`creating ${PARTITIONS} partitions one by one, audited and plain alternating`);
    const parts: Record<string, number[]> = { audited: [], plain: [] };
    for (const [kind, t] of Object.entries(tables)) {
      await c.query(
        `CREATE TABLE ${t}_p (id bigint, k int, v text, PRIMARY KEY (id, k)) PARTITION BY LIST (k)`,
      );
      if (kind === 'audited') {
        await createThreadline({ db: c, tables: { [`${t}_p`]: {} } }).installTriggers();
      }
    }
    for (let i = 1; i <= PARTITIONS; i += 1) {
      for (const [kind, t] of Object.entries(tables)) {
        parts[kind]!.push(
          await timed(() => c.query(`CREATE TABLE ${t}_p_${i} PARTITION OF ${t}_p FOR VALUES IN (${i})`)),
        );
      }
    }
    const around = (xs: number[], at: number) => median(xs.slice(Math.max(0, at - 5), at + 5));
    const m = { a: median(meta.audited!), p: median(meta.plain!) };
    const bm = { a: median(batchMeta.audited!), p: median(batchMeta.plain!) };
    const ba = { a: median(batchAdd.audited!), p: median(batchAdd.plain!) };
    const bw = { a: median(batchAddWrite.audited!), p: median(batchAddWrite.plain!) };
    const sa = { a: median(single.audited!), p: median(single.plain!) };
    const p10 = { a: around(parts.audited!, 9), p: around(parts.plain!, 9) };
    const pN = { a: around(parts.audited!, PARTITIONS - 6), p: around(parts.plain!, PARTITIONS - 6) };
    process.stdout.write(
      section(
        'DDL on an audited table vs the same table unaudited (ms, medians)',
        `one connection, ${REPS} metadata ALTERs and ADD COLUMNs per table, ${BATCHES} committed batches of 100, ${PARTITIONS} partitions; noisy on a shared machine`,
        table(
          ['statement', 'audited', 'plain', 'ratio', 'target'],
          [
            ['metadata-only ALTER', num(m.a, 2), num(m.p, 2), ratio(m.a, m.p), '≤ 3×'],
            ['one ADD COLUMN (autocommit)', num(sa.a, 2), num(sa.p, 2), ratio(sa.a, sa.p), '(regenerates)'],
            ['100 metadata ALTERs, one transaction', num(bm.a, 1), num(bm.p, 1), ratio(bm.a, bm.p), '≤ 3×'],
            ['100 ADD COLUMN, one transaction', num(ba.a, 1), num(ba.p, 1), ratio(ba.a, ba.p), '≤ 3×'],
            [
              '100 × (ADD COLUMN + UPDATE), one transaction',
              num(bw.a, 1),
              num(bw.p, 1),
              ratio(bw.a, bw.p),
              '(regenerates each time)',
            ],
            [
              '10th partition (median of 10 around it)',
              num(p10.a, 2),
              num(p10.p, 2),
              ratio(p10.a, p10.p),
              '',
            ],
            [
              `${PARTITIONS - 1}th partition (median around it)`,
              num(pN.a, 2),
              num(pN.p, 2),
              ratio(pN.a, pN.p),
              '',
            ],
            ['late / 10th partition, audited', '', '', ratio(pN.a, p10.a), '≤ 2×'],
            ['late / 10th partition, plain', '', '', ratio(pN.p, p10.p), '(reference)'],
          ],
        ),
      ),
    );
  } finally {
    await c.end();
  }
});
