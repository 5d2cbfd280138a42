import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

/**
 * Portable mode (no DDL event triggers: a non-superuser install) cannot follow a rename. A masked
 * or excluded column renamed away, with a new column taking its configured name, must not store
 * the renamed column's values in clear text (found by an adversarial hunt).
 */
describeEachDb('portable capture after renames', (db) => {
  it('never stores a masked or excluded value that a rename moved to a column unknown at generation', async () => {
    const t = uniqueName('pe');
    await db().exec(`create table ${t} (id int primary key, email text, pw text, note text)`);
    const tl = await installed(db(), { [t]: { mask: ['email'], exclude: ['pw'] } });
    await db().sql(`select threadline.enable_capture('public', $1, $2::jsonb, 'portable')`, [
      t,
      JSON.stringify({ mask: ['email'], exclude: ['pw'] }),
    ]);
    await db().exec(`insert into ${t} values (1, 'MASKED_SECRET', 'EXCLUDED_SECRET', 'n')`);
    // What a role without event triggers sees: no regeneration after these statements.
    const toggle = (how: string) =>
      `do $$ declare e text; begin for e in select evtname from pg_event_trigger where evtname like 'threadline\\_%' loop execute format('alter event trigger %I ${how}', e); end loop; end $$;`;
    await db().exec(`${toggle('disable')}
      alter table ${t} rename column email to email_old;
      alter table ${t} rename column pw to pw_old;
      alter table ${t} add column email text, add column pw text;
      ${toggle('enable always')}`);
    await db().exec(`update ${t} set email = 'new', note = 'm' where id = 1`);
    await db().exec(`update ${t} set email_old = 'MASKED_SECRET_2' where id = 1`);
    await db().exec(`delete from ${t} where id = 1`);
    const rows = await db().sql<{ images: string }>(
      `select concat_ws(' ', data_after::text, data_before::text, changed_from::text) as images
         from threadline.audit_changes where table_name = $1`,
      [t],
    );
    expect(rows).toHaveLength(4);
    for (const { images } of rows) {
      expect(images).not.toContain('MASKED_SECRET');
      expect(images).not.toContain('EXCLUDED_SECRET');
    }
    expect(tl.schema).toBe('threadline');
  });
});
