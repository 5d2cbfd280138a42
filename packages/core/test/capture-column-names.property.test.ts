import { describeEachDb } from '@threadline/test-utils';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { quoteIdent } from '../src/capture/identifiers.js';
import { changesFor, installed, uniqueName } from './helpers.js';

/**
 * No user column name may change what the generated SQL means (issue 15, item 2): whatever the
 * columns are called — like the generator's aliases, SQL keywords, plpgsql names, quotes,
 * dollar quotes, format() directives, unicode, 63 bytes — every change is recorded exactly as a
 * direct read of the table shows it, in both capture modes.
 */
const ALIASES = [
  'r',
  'n',
  'o',
  'x',
  'j',
  'k',
  'e',
  'g',
  'c',
  'oj',
  'ct',
  'fields',
  'c_1',
  'o_1',
  'c_2',
  'o_2',
  'k_new',
  'k_old',
  'k_changed',
  'tl_r',
  'tl_n',
  'tl_o',
  'tl_x',
  'tl_rn',
  'tl_j',
  'tl_k',
  'tl_at',
  'tl_r_2',
  'tl_at_2',
  'threadline_row',
  'threadline_rn',
  'threadline_new_rows',
  'threadline_old_rows',
  'tg_op',
  'new',
  'old',
  'found',
  'orec',
  'rec',
];
const KEYWORDS = [
  'select',
  'from',
  'where',
  'user',
  'order',
  'table',
  'end',
  'offset',
  'null',
  'true',
  'Case',
  'ROW',
];
const HOSTILE = [
  '"',
  "'",
  'a"b',
  "it's",
  '$fn$',
  '$$',
  '%s',
  '%I',
  '%%L',
  '\\',
  'a b',
  'a.b',
  'a,b',
  '--',
  '/*',
  ';',
  ')',
  '(',
  'é',
  'Ünïcödé',
  '日本語',
  '🙂',
  'x'.repeat(63),
  `${'é'.repeat(31)}x`,
  `${'日'.repeat(21)}`,
];

const SYSTEM_COLUMNS = ['tableoid', 'cmax', 'xmax', 'cmin', 'xmin', 'ctid'];
const columnName = fc.oneof(
  fc.constantFrom(...ALIASES, ...KEYWORDS, ...HOSTILE),
  fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
    .filter((s) => !s.includes('\u0000') && Buffer.byteLength(s) <= 63 && !SYSTEM_COLUMNS.includes(s)),
);
const columns = fc.uniqueArray(columnName, { minLength: 2, maxLength: 6 });
const TYPES = ['text', 'numeric', 'jsonb', 'int'] as const;

function literal(type: (typeof TYPES)[number], seed: number): string {
  switch (type) {
    case 'text':
      return `'v${seed}'`;
    case 'numeric':
      return `${seed}.${seed % 2 === 0 ? '0' : '50'}`;
    case 'jsonb':
      return `'{"v": ${seed}}'`;
    default:
      return String(seed);
  }
}

describeEachDb('column names cannot change what capture means (property)', (db) => {
  for (const mode of ['compiled', 'portable'] as const) {
    it(`records every change exactly, whatever the columns are called [${mode}]`, async () => {
      await installed(db());
      await fc.assert(
        fc.asyncProperty(columns, async (names) => {
          const t = uniqueName(`prop_${mode}`);
          const key = names[0]!;
          const others = names.slice(1).map((name, i) => ({ name, type: TYPES[i % TYPES.length]! }));
          const q = (name: string) => quoteIdent(name);
          await db().exec(
            `create table ${t} (${q(key)} int primary key, ${others.map((c) => `${q(c.name)} ${c.type}`).join(', ')})`,
          );
          await db().sql(`select threadline.enable_capture('public', $1, '{}', $2)`, [t, mode]);
          // The ground truth reads the row through the table name (never a generated column name).
          const image = async () =>
            (await db().sql<{ j: unknown }>(`select to_jsonb(${t}) as j from ${t}`))[0]?.j;

          await db().exec(
            `insert into ${t} values (1, ${others.map((c, i) => literal(c.type, i + 1)).join(', ')})`,
          );
          const inserted = await image();
          const changed = others.filter((_, i) => i % 2 === 0);
          await db().exec(
            `update ${t} set ${changed.map((c, i) => `${q(c.name)} = ${literal(c.type, 100 + i)}`).join(', ')}`,
          );
          const updated = await image();
          await db().exec(`update ${t} set ${q(key)} = 2`);
          const rekeyed = await image();
          await db().exec(`delete from ${t}`);

          const rows = await changesFor(db(), 'public', t);
          expect(rows.map((r) => r.op)).toEqual(['insert', 'update', 'update', 'delete']);
          expect(rows[0]!.data_after).toEqual(inserted);
          expect(rows[0]!.table_pk).toEqual({ [key]: 1 });
          expect([...(rows[1]!.changed_fields ?? [])].sort()).toEqual(changed.map((c) => c.name).sort());
          expect(rows[1]!.data_after).toEqual(updated);
          expect(rows[1]!.changed_from).toEqual(
            Object.fromEntries(changed.map((c) => [c.name, (inserted as Record<string, unknown>)[c.name]])),
          );
          expect(rows[2]!.table_pk).toEqual({ [key]: 2 });
          expect(rows[2]!.table_pk_before).toEqual({ [key]: 1 });
          expect(rows[2]!.changed_fields).toEqual([key]);
          expect(rows[2]!.data_after).toEqual(rekeyed);
          expect(rows[3]!.data_before).toEqual(rekeyed);
          await db().exec(`drop table ${t}`);
        }),
        {
          numRuns: db().kind === 'pglite' ? 15 : 30,
          seed: 15,
          examples: [
            [['id', 'r', 'v']],
            [['r', 'n', 'o', 'x', 'j', 'k']],
            [['tl_at', 'tl_r', 'tl_n', 'tl_o', 'tl_x', 'tl_rn']],
            [['c', 'c_1', 'o_1', 'k_new', 'fields', 'oj']],
            [['$fn$', '%s', '"', "'", '🙂', 'x'.repeat(63)]],
          ],
        },
      );
    });
  }
});
