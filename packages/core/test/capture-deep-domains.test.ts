import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/**
 * A column whose type is a chain of more than 10 domains: capture_compare gave no comparison for
 * it (NULL), which shifted the generated per-column comparisons by one, so changed_fields named
 * the wrong column, a change of that column was lost and table_pk_before was set when the key did
 * not change (and missing when it did). It now compares the column's JSON text like any other type.
 */
describeEachDb('capture: a column typed by a domain chain deeper than 10', (db) => {
  it('records changed_fields, changed_from and table_pk_before of each column exactly', async () => {
    const d = uniqueName('dd');
    const t = uniqueName('deep');
    await db().exec(`create domain ${d}0 as text;
      ${Array.from({ length: 12 }, (_, i) => `create domain ${d}${i + 1} as ${d}${i};`).join('\n')}
      create table ${t} (a ${d}12, id int primary key, z text);
      insert into ${t} values ('x', 1, 'p'), ('y', 2, 'q');`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${t} set z = 'changed' where id = 1`);
        await tx.query(`update ${t} set id = 20 where id = 2`);
        await tx.query(`update ${t} set a = 'x2' where id = 1`);
      }),
    );
    const rows = await db().sql<{ pk: string; before: string | null; fields: string[]; from: string }>(
      `select table_pk::text as pk, table_pk_before::text as before, changed_fields as fields, changed_from::text as from
         from threadline.audit_changes where table_name = '${t}' and op = 'update' order by id`,
    );
    expect(rows).toEqual([
      { pk: '{"id": 1}', before: null, fields: ['z'], from: '{"z": "p"}' },
      { pk: '{"id": 20}', before: '{"id": 2}', fields: ['id'], from: '{"id": 2}' },
      { pk: '{"id": 1}', before: null, fields: ['a'], from: '{"a": "x"}' },
    ]);
  });
});
