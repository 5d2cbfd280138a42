import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { changesFor, installed, uniqueName } from './helpers.js';

/** The same workload captured in compiled and in portable mode must produce the same audit rows. */
describeEachDb('compiled and portable capture agree', (db) => {
  it('on inserts, updates (incl. key changes, masks, exceptColumns), deletes and truncates', async () => {
    await installed(db());
    const options = JSON.stringify({ mask: ['email'], exclude: ['secret'], exceptColumns: ['touched_at'] });
    const tables: string[] = [];
    for (const mode of ['compiled', 'portable']) {
      const t = uniqueName(`agree_${mode}`);
      tables.push(t);
      await db().exec(
        `create table ${t} (org int, id int, email text, secret text, n numeric, tags text[], doc json, touched_at timestamptz, primary key (org, id))`,
      );
      await db().sql(`select threadline.enable_capture('public', $1, $2::jsonb, $3)`, [t, options, mode]);
      await db().exec(`
        insert into ${t} select 1, g, 'u' || g || '@x', 's', g * 1.5, array['a'], '{"k": 1}', now() from generate_series(1, 20) g;
        update ${t} set n = n + 1 where id <= 5;
        update ${t} set email = 'changed@x', doc = '{"k": 2}' where id = 6;
        update ${t} set touched_at = now() + interval '1 day';
        update ${t} set id = id + 100 where id > 15;
        update ${t} set tags = array['a', 'b'], secret = 'z' where id = 7;
        update ${t} set secret = 'only excluded' where id = 8;
        delete from ${t} where id in (9, 10);
        truncate ${t};`);
    }
    const strip = (rows: Awaited<ReturnType<typeof changesFor>>) =>
      rows.map(
        ({ op, table_pk, table_pk_before, changed_fields, changed_from, data_before, data_after }) => ({
          op,
          table_pk,
          table_pk_before,
          changed_fields,
          changed_from,
          data_before: data_before && { ...data_before, touched_at: 'x' },
          data_after: data_after && { ...data_after, touched_at: 'x' },
        }),
      );
    const compiled = strip(await changesFor(db(), 'public', tables[0]!));
    const portable = strip(await changesFor(db(), 'public', tables[1]!));
    expect(compiled.length).toBe(20 + 5 + 1 + 5 + 1 + 2 + 1);
    for (let i = 0; i < Math.max(compiled.length, portable.length); i++)
      expect(portable[i], `row ${i}`).toEqual(compiled[i]);
    expect(JSON.stringify(compiled)).not.toMatch(/u\d+@x|changed@x|"secret"/);
  });
});
