import { describeEachDb } from '@threadline/test-utils';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { jsonbTextBytes } from '../src/context/meta-size.js';
import { ActorRef, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

// The meta limit is one measure on both sides: the bytes of PostgreSQL's jsonb text of meta
// (found by the capture hunt: JS measured JSON.stringify and counted any number as 24 bytes, so
// a meta it accepted could be dropped by the database).

/** Numbers whose JSON and numeric text differ most: exponents both ways, extremes. */
const awkwardNumber = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(
    1e300,
    -1e300,
    5e-324,
    -5e-324,
    1.7976931348623157e308,
    1e21,
    1.2345e21,
    1e-7,
    1.5e-7,
    0.000001,
    -0,
  ),
  fc.integer(),
);
const metaValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    awkwardNumber,
    fc.string({ unit: 'grapheme', maxLength: 8 }),
    fc.string({ maxLength: 8 }).filter((s) => !s.includes('\u0000')),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 3 }),
    fc.dictionary(
      fc.string({ maxLength: 6 }).filter((s) => !s.includes('\u0000')),
      tie('value'),
      { maxKeys: 3 },
    ),
  ),
})).value;

describeEachDb('context meta size', (db) => {
  it('measures meta exactly as the database does: octet_length(meta::jsonb::text)', async () => {
    const metas = fc.sample(
      fc.dictionary(
        fc.string({ maxLength: 6 }).filter((s) => !s.includes('\u0000')),
        metaValue,
        { maxKeys: 5 },
      ),
      {
        numRuns: 150,
        seed: 7,
      },
    );
    metas.push({}, { a: [] }, { a: {} }, { a: [1, { b: null }], 'é\n"': 'x\u0001\u007f\u2028' });
    const texts = metas.map((m) => JSON.stringify(m));
    const rows = await db().sql<{ n: number }>(
      'select octet_length(m::jsonb::text) as n from unnest($1::text[]) with ordinality as u(m, i) order by i',
      [texts],
    );
    expect(metas.map((m) => jsonbTextBytes(JSON.parse(JSON.stringify(m))))).toEqual(
      rows.map((r) => Number(r.n)),
    );
  });

  it('everything the JS side accepts is stored; what the database would drop is refused up front', async () => {
    const t = uniqueName('meta');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const huge: Record<string, number> = {};
    for (let i = 0; i < 30; i++) huge[`n${i}`] = 1e300; // ~300 bytes of JSON, ~9,300 of jsonb text
    const many: Record<string, number> = {};
    for (let i = 0; i < 760; i++) many[`k${i}`] = i; // ~8,000 bytes of JSON, 1,520 more as jsonb text
    const exact = { note: 'x'.repeat(8192 - 12) }; // {"note": "…"} is exactly 8192 bytes of jsonb text
    const over = { note: 'x'.repeat(8192 - 11) }; // 8192 bytes of JSON, 8193 of jsonb text
    for (const meta of [huge, many, over]) {
      let error: unknown;
      try {
        runWithAuditContext({ meta }, () => undefined);
      } catch (e) {
        error = e;
      }
      expect(isThreadlineError(error) && error.code).toBe('INVALID_CONTEXT');
      expect(String((error as Error).message)).toMatch(/meta is larger than 8192 bytes/);
    }
    const fits: Record<string, number> = {};
    for (let i = 0; i < 25; i++) fits[`n${i}`] = 1e300; // 7,701 bytes of jsonb text
    let id = 0;
    for (const meta of [exact, fits, { deep: [1e-300, { n: -1.5e300 }] }]) {
      const out = await runWithAuditContext({ actor: ActorRef.user('m'), meta }, () =>
        tl.transaction((tx) => tx.query(`insert into ${t} values ($1)`, [++id])),
      );
      const [row] = await db().sql<{ meta: unknown }>(
        'select meta from threadline.audit_transactions where id = $1',
        [out.auditTransactionId],
      );
      expect(row!.meta).toEqual(meta);
    }
  });
});
