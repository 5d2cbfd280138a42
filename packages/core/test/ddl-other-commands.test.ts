import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { changesFor, installed, uniqueName } from './helpers.js';

// Commands other than ALTER TABLE that PostgreSQL lets change an ordinary table's columns or name
// (ddl-sync.ts): each must be followed like the ALTER TABLE it amounts to. Without it a masked
// column renamed away was stored in clear text and the next UPDATE failed on the stale function.
describeEachDb(
  'DDL commands that change a table without saying ALTER TABLE',
  (db) => {
    for (const form of ['VIEW', 'MATERIALIZED VIEW', 'FOREIGN TABLE']) {
      it(`ALTER ${form} ... RENAME COLUMN on an audited table: a masked column renamed away stays redacted`, async () => {
        const t = uniqueName('alterview');
        await db().exec(`create table ${t} (id int primary key, secret text, note text)`);
        const tl = await installed(db(), { [t]: { mask: ['secret'] } });
        await tl.installTriggers({ tables: [t] });
        await db().exec(`alter ${form} ${t} rename column secret to secret_old`);
        await db().exec(`alter ${form} ${t} rename column note to secret`);
        await db().exec(`insert into ${t} values (1, 'TOP-SECRET-VALUE', 'public note')`);
        await db().exec(`update ${t} set secret_old = 'TOP-SECRET-2' where id = 1`);
        const rows = await changesFor(db(), 'public', t);
        expect(rows.map((r) => [r.op, r.data_after])).toEqual([
          ['insert', { id: 1, secret: '[REDACTED]', secret_old: '[REDACTED]' }],
          ['update', { id: 1, secret: '[REDACTED]', secret_old: '[REDACTED]' }],
        ]);
      });
    }

    it('ALTER TYPE ... RENAME/ADD/DROP ATTRIBUTE ... CASCADE on the type of an audited typed table', async () => {
      const t = uniqueName('typed');
      await db().exec(
        `create type ${t}_ty as (id int, secret text, note text); create table ${t} of ${t}_ty (primary key (id))`,
      );
      const tl = await installed(db(), { [t]: { mask: ['secret'] } });
      await tl.installTriggers({ tables: [t] });
      await db().exec(`alter type ${t}_ty rename attribute secret to hidden cascade`);
      await db().exec(`alter type ${t}_ty rename attribute note to secret cascade`);
      await db().exec(`insert into ${t} values (1, 'TOP-SECRET', 'n')`);
      await db().exec(`update ${t} set secret = 'm'`);
      await db().exec(`alter type ${t}_ty add attribute extra text cascade`);
      await db().exec(`insert into ${t} values (2, 'TOP-SECRET-2', 'n', 'e')`);
      await db().exec(`alter type ${t}_ty drop attribute extra cascade`);
      await db().exec(`insert into ${t} values (3, 'TOP-SECRET-3', 'n')`);
      const rows = await changesFor(db(), 'public', t);
      expect(rows.map((r) => [r.op, r.data_after])).toEqual([
        ['insert', { id: 1, hidden: '[REDACTED]', secret: '[REDACTED]' }],
        ['update', { id: 1, hidden: '[REDACTED]', secret: '[REDACTED]' }],
        ['insert', { id: 2, hidden: '[REDACTED]', secret: '[REDACTED]', extra: 'e' }],
        ['insert', { id: 3, hidden: '[REDACTED]', secret: '[REDACTED]' }],
      ]);
    });

    it('ALTER INDEX <table> RENAME TO renames the audited table: captured and found under the new name', async () => {
      const t = uniqueName('viaindex');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db(), { [t]: {} });
      await tl.installTriggers({ tables: [t] });
      await db().exec(`alter index ${t} rename to ${t}_2`);
      await db().exec(`insert into ${t}_2 values (1, 'a')`);
      expect((await changesFor(db(), 'public', `${t}_2`)).map((r) => r.op)).toEqual(['insert']);
      const h = await tl.history(`${t}_2`, { id: 1 });
      expect(h.entries.map((e) => [e.tableName, e.op])).toEqual([[`${t}_2`, 'insert']]);
    });

    it("ALTER SCHEMA ... RENAME of an audited table's schema: captured and found under the new name", async () => {
      const s = uniqueName('sch');
      await db().exec(`create schema ${s}; create table ${s}.r (id int primary key, v text)`);
      const tl = await installed(db(), { [`${s}.r`]: {} });
      await tl.installTriggers({ tables: [`${s}.r`] });
      await db().exec(`alter schema ${s} rename to ${s}_2`);
      await db().exec(`insert into ${s}_2.r values (1, 'after')`);
      expect((await changesFor(db(), `${s}_2`, 'r')).map((r) => r.data_after)).toEqual([
        { id: 1, v: 'after' },
      ]);
      const h = await tl.history(`${s}_2.r`, { id: 1 });
      expect(h.entries.map((e) => [e.tableSchema, e.op])).toEqual([[`${s}_2`, 'insert']]);
    });

    it('DDL capture did not follow (event trigger disabled): a column renamed away from a masked name is left out, never stored in clear', async () => {
      const t = uniqueName('unfollowed');
      await db().exec(`create table ${t} (id int primary key, secret text, note text)`);
      const tl = await installed(db(), { [t]: { mask: ['secret'] } });
      await tl.installTriggers({ tables: [t] });
      const [evt] = await db().sql<{ name: string }>(
        `select evtname as name from pg_event_trigger where evtname = 'threadline_sync_' || md5('threadline')`,
      );
      await db().exec(`alter event trigger ${evt!.name} disable`);
      try {
        await db().exec(
          `alter table ${t} rename column secret to secret_old; alter table ${t} add column secret text`,
        );
        await db().exec(`insert into ${t} values (1, 'TOP-SECRET-VALUE', 'n', 'new')`);
        await db().exec(`update ${t} set note = 'm', secret_old = 'TOP-SECRET-2'`);
        await db().exec(`delete from ${t}`);
      } finally {
        await db().exec(`alter event trigger ${evt!.name} enable always`);
      }
      const rows = await changesFor(db(), 'public', t);
      expect(JSON.stringify(rows)).not.toContain('TOP-SECRET');
      expect(rows.map((r) => [r.op, r.data_after])).toEqual([
        ['insert', { id: 1, secret: '[REDACTED]', note: 'n' }],
        ['update', { id: 1, secret: '[REDACTED]', note: 'm' }],
        ['delete', null],
      ]);
    });
  },
  ['postgres'],
);
