import { createThreadline } from '@threadline/core';
import pg from 'pg';
const c = new pg.Client('postgres://postgres@127.0.0.1:5432/ddlcost_prof');
await c.connect();
const tl = createThreadline({ db: c, tables: { a: { mask: ['email'] } } });
await tl.install();
await tl.installTriggers();
const t = async (tab: string, end: string) => {
  const s = process.hrtime.bigint();
  await c.query('BEGIN');
  for (let i = 0; i < 100; i++) await c.query(`ALTER TABLE ${tab} ADD COLUMN zz${i} int`);
  await c.query(end);
  const ms = Number(process.hrtime.bigint() - s) / 1e6;
  if (end === 'COMMIT') for (let i = 0; i < 100; i++) await c.query(`ALTER TABLE ${tab} DROP COLUMN zz${i}`);
  return ms;
};
const med = (xs: number[]) => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const end = process.argv[2] ?? 'ROLLBACK';
const A: number[] = [], P: number[] = [];
for (let r = 0; r < 7; r++) { A.push(await t('a', end)); P.push(await t('p', end)); }
console.log(end, 'audited', med(A).toFixed(1), 'plain', med(P).toFixed(1), 'ratio', (med(A) / med(P)).toFixed(2));
await c.end();
