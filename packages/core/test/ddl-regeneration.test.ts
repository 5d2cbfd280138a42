import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { changesFor, countRows, installed, uniqueName } from './helpers.js';

async function triggerStates(db: { sql: <R>(t: string, p?: unknown[]) => Promise<R[]> }, table: string) {
  const rows = await db.sql<{ tgname: string; tgenabled: string }>(
    `select tgname, tgenabled from pg_trigger where tgrelid = $1::regclass and tgname like 'threadline\\_%' order by tgname`,
    [table],
  );
  return Object.fromEntries(rows.map((r) => [r.tgname, r.tgenabled]));
}

describeEachDb(
  'DDL regeneration: redaction by name, drops by any command, locks and trigger state',
  (db) => {
    it('keeps masking across the expand/contract migration (drop email, rename email_new to email)', async () => {
      const t = uniqueName('expand');
      await db().exec(`create table ${t} (id int primary key, email text)`);
      const tl = await installed(db(), { [t]: { mask: ['email'] } });
      await tl.installTriggers({ tables: [t] });
      await db().exec(`alter table ${t} add column email_new text`);
      await db().exec(`update ${t} set email_new = email`);
      await db().exec(`alter table ${t} drop column email`);
      await db().exec(`alter table ${t} rename column email_new to email`);
      await db().exec(`insert into ${t} values (1, 'new@secret')`);
      const rows = await changesFor(db(), 'public', t);
      expect(rows.map((r) => r.data_after)).toEqual([{ id: 1, email: '[REDACTED]' }]);
      const [reg] = await db().sql<{ options: { mask: string[] } }>(
        'select options from threadline.captured_tables where relid = $1::regclass',
        [t],
      );
      expect(reg!.options.mask).toEqual(['email']);
    });

    it('regenerates when DROP TYPE ... CASCADE drops a column, so UPDATE keeps working', async () => {
      const t = uniqueName('moody');
      const ty = uniqueName('mood');
      await db().exec(
        `create type ${ty} as enum ('ok', 'sad'); create table ${t} (id int primary key, m ${ty}, v text)`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await db().exec(`insert into ${t} values (1, 'ok', 'a')`);
      await db().exec(`drop type ${ty} cascade`);
      await db().exec(`update ${t} set v = 'b'`);
      const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
      expect(rows.map((r) => [r.changed_fields, r.data_after])).toEqual([[['v'], { id: 1, v: 'b' }]]);
    });

    it('keeps DISABLE / ENABLE REPLICA / ENABLE ALWAYS across an ALTER that regenerates', async () => {
      const t = uniqueName('trigstate');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await db().exec(
        `alter table ${t} disable trigger threadline_capture_insert, enable replica trigger threadline_capture_update, enable always trigger threadline_capture_delete`,
      );
      await db().exec(`alter table ${t} add column w int`);
      expect(await triggerStates(db(), t)).toEqual({
        threadline_capture_before: 'O',
        threadline_capture_delete: 'A',
        threadline_capture_insert: 'D',
        threadline_capture_truncate: 'O',
        threadline_capture_update: 'R',
      });
      await db().exec(`insert into ${t} values (1, 'loaded without capture')`);
      expect(await changesFor(db(), 'public', t)).toEqual([]);
    });

    it('ignores a session setting threadline.syncing: regeneration still happens', async () => {
      const t = uniqueName('forged');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await db().exec(
        `begin; set local threadline.syncing = on; alter table ${t} add column w text; commit;`,
      );
      await db().exec(`insert into ${t} values (1, 'a', 'b'); update ${t} set w = 'c'`);
      const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
      expect(rows.map((r) => r.changed_fields)).toEqual([['w']]);
    });

    it('refuses DROP TRIGGER on a capture trigger of an audited table', async () => {
      const t = uniqueName('dropper');
      await db().exec(`create table ${t} (id int primary key)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await expect(db().exec(`drop trigger threadline_capture_insert on ${t}`)).rejects.toThrow(
        /is audited; dropping its trigger threadline_capture_insert would stop capture without a record/,
      );
      await db().exec(`insert into ${t} values (1)`);
      expect((await changesFor(db(), 'public', t)).map((r) => r.op)).toEqual(['insert']);
      // disable_capture (threadline's own) still removes them.
      await db().sql('select threadline.disable_capture($1, $2)', ['public', t]);
      expect(await triggerStates(db(), t)).toEqual({});
    });

    it('refuses ALTER TRIGGER ... DEPENDS ON EXTENSION on a capture trigger (DROP EXTENSION would drop it silently)', async () => {
      const t = uniqueName('extdep');
      await db().exec(`create table ${t} (id int primary key)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await expect(
        db().exec(`alter trigger threadline_capture_insert on ${t} depends on extension plpgsql`),
      ).rejects.toThrow(/would depend on an extension: dropping the extension would stop capture/);
      const [dep] = await db().sql<{ n: number }>(
        `select count(*)::int as n from pg_depend d join pg_trigger tg on tg.oid = d.objid
          where d.classid = 'pg_trigger'::regclass and d.deptype = 'x' and tg.tgrelid = $1::regclass`,
        [t],
      );
      expect(dep!.n).toBe(0);
    });

    it('refuses renaming a capture trigger or adding a copy, so nothing is captured twice', async () => {
      const t = uniqueName('twice');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await expect(
        db().exec(`alter trigger threadline_capture_insert on ${t} rename to my_insert`),
      ).rejects.toThrow(
        /trigger my_insert on .* would call a Threadline capture function under another name/,
      );
      const [fn] = await db().sql<{ f: string }>(
        'select tgfoid::regproc::text as f from pg_trigger where tgrelid = $1::regclass limit 1',
        [t],
      );
      await expect(
        db().exec(
          `create trigger extra after insert on ${t} referencing new table as threadline_new_rows for each statement execute function ${fn!.f}()`,
        ),
      ).rejects.toThrow(/trigger extra on .* would call a Threadline capture function/);
      await db().exec(`alter table ${t} add column w int`);
      await db().exec(`insert into ${t} values (1, 'once')`);
      expect((await changesFor(db(), 'public', t)).map((r) => r.op)).toEqual(['insert']);
    });

    it('a metadata-only ALTER does not regenerate: a concurrent audited INSERT is not blocked', async () => {
      const t = uniqueName('meta');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const [before] = await db().sql<{ g: string }>(
        'select generated_at::text as g from threadline.captured_tables where relid = $1::regclass',
        [t],
      );
      const pool = new pg.Pool({ connectionString: db().server!.url, max: 2 });
      const ddl = await pool.connect();
      const writer = await pool.connect();
      try {
        await ddl.query('begin');
        await ddl.query(`alter table ${t} alter column v set statistics 500`);
        await ddl.query(`alter table ${t} set (fillfactor = 80)`);
        await writer.query("set lock_timeout = '2s'");
        await writer.query(`insert into ${t} values (1, 'during')`);
        await ddl.query('commit');
      } finally {
        ddl.release();
        writer.release();
        await pool.end();
      }
      const [after] = await db().sql<{ g: string }>(
        'select generated_at::text as g from threadline.captured_tables where relid = $1::regclass',
        [t],
      );
      expect(after!.g).toBe(before!.g);
      expect((await changesFor(db(), 'public', t)).map((r) => r.table_pk)).toEqual([{ id: 1 }]);
    });

    it('raises a lock_timeout during regeneration instead of falling back and losing primaryKey', async () => {
      const t = uniqueName('lockwait');
      await db().exec(`create table ${t} (id int not null unique, v text)`);
      const tl = await installed(db(), { [t]: { primaryKey: ['id'] } });
      await tl.installTriggers({ tables: [t] });
      const pool = new pg.Pool({ connectionString: db().server!.url, max: 2 });
      const holder = await pool.connect();
      const migrator = await pool.connect();
      try {
        await holder.query('begin');
        await holder.query('select 1 from threadline.captured_tables where relid = $1::regclass for update', [
          t,
        ]);
        const notices: string[] = [];
        migrator.on('notice', (n) => notices.push(n.message ?? ''));
        await migrator.query("set lock_timeout = '300ms'");
        await expect(migrator.query(`alter table ${t} add column w int`)).rejects.toThrow(/lock timeout/);
        // One honest error, no fallback behind a misleading warning.
        expect(notices.filter((m) => m.includes('threadline'))).toEqual([]);
        await holder.query('rollback');
      } finally {
        holder.release();
        migrator.release();
        await pool.end();
      }
      const [reg] = await db().sql<{ options: { primaryKey: string[] }; mode: string }>(
        'select options, mode from threadline.captured_tables where relid = $1::regclass',
        [t],
      );
      expect([reg!.options.primaryKey, reg!.mode]).toEqual([['id'], 'compiled']);
    });

    it('records dropping or detaching a partition of an audited table', async () => {
      const t = uniqueName('parts');
      await db().exec(
        `create table ${t} (id int, region text, primary key (id, region)) partition by list (region);
         create table ${t}_eu partition of ${t} for values in ('eu');
         create table ${t}_us partition of ${t} for values in ('us');
         create table ${t}_ap partition of ${t} for values in ('ap');`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await db().exec(`insert into ${t} values (1, 'eu'), (2, 'us'), (3, 'ap')`);
      await db().exec(`alter table ${t} detach partition ${t}_us`);
      await db().exec(`drop table ${t}_eu`);
      await db().exec(`insert into ${t}_us values (9, 'us')`);
      const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'truncate');
      expect(rows.map((r) => r.data_before)).toEqual([
        { partition: `public.${t}_us`, detached: true },
        { partition: `public.${t}_eu`, dropped: true },
      ]);
      expect(await triggerStates(db(), `${t}_us`)).toEqual({});
      expect(
        await countRows(db(), 'select 1 from threadline.audit_changes where table_name = $1', [`${t}_us`]),
      ).toBe(0);
    });

    it('refuses to attach an audited table under an unaudited parent, and inheritance on audited tables', async () => {
      const t = uniqueName('lonely');
      await db().exec(
        `create table ${t}_parent (id int, region text, primary key (id, region)) partition by list (region);
         create table ${t} (id int, region text, primary key (id, region));
         create table ${t}_base (id int primary key);`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t, `${t}_base`] });
      await expect(
        db().exec(`alter table ${t}_parent attach partition ${t} for values in ('eu')`),
      ).rejects.toThrow(/is audited and would become a partition of .*, which is not/);
      await expect(db().exec(`create table ${t}_child (extra text) inherits (${t}_base)`)).rejects.toThrow(
        /inherits from .*and one of them is audited/,
      );
    });

    it('a table already in an inheritance tree is refused when capture is enabled, parent or child', async () => {
      const t = uniqueName('inh');
      await db().exec(
        `create table ${t}_parent (id int primary key, v text); create table ${t}_child (extra text) inherits (${t}_parent);
         alter table ${t}_child add primary key (id)`,
      );
      const tl = await installed(db());
      for (const table of [`${t}_parent`, `${t}_child`])
        await expect(tl.installTriggers({ tables: [table] })).rejects.toThrow(
          /is in a table inheritance tree \(.*inherits from .*\): writes through the parent/,
        );
    });
  },
  ['postgres'],
);

describeEachDb(
  'DDL regeneration under concurrency and hostile names',
  (db) => {
    it('two migrations altering two audited tables in opposite order wait, they do not deadlock on Threadline', async () => {
      const a = uniqueName('mig_a');
      const b = uniqueName('mig_b');
      await db().exec(`create table ${a} (id int primary key); create table ${b} (id int primary key)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [a, b] });
      const pool = new pg.Pool({ connectionString: db().server!.url, max: 2 });
      const one = await pool.connect();
      const two = await pool.connect();
      try {
        await two.query("set lock_timeout = '2s'");
        await one.query('begin');
        await two.query('begin');
        await one.query(`alter table ${a} add column x int`);
        // Without Threadline this does not wait for the other migration; with it, neither may.
        await two.query(`alter table ${b} add column x int`);
        const oneOnB = one.query(`alter table ${b} add column y int`);
        await two.query('commit');
        await oneOnB;
        await one.query(`alter table ${a} add column y int`);
        await one.query('commit');
      } finally {
        one.release();
        two.release();
        await pool.end();
      }
      await db().exec(`insert into ${a} values (1, 2, 3); insert into ${b} values (1, 2, 3)`);
      expect((await changesFor(db(), 'public', a)).map((r) => r.data_after)).toEqual([{ id: 1, x: 2, y: 3 }]);
      expect((await changesFor(db(), 'public', b)).map((r) => r.data_after)).toEqual([{ id: 1, x: 2, y: 3 }]);
    });

    it('30 concurrent writers on a 2-connection pool during 12 ALTERs: every write recorded exactly once, none fails', async () => {
      const t = uniqueName('busy');
      await db().exec(`create table ${t} (id int primary key, v text, secret text)`);
      const tl = await installed(db(), { [t]: { mask: ['secret'] } });
      await tl.installTriggers({ tables: [t] });
      const pool = new pg.Pool({ connectionString: db().server!.url, max: 2 });
      const migrator = new pg.Client({ connectionString: db().server!.url });
      await migrator.connect();
      try {
        const writers = Array.from({ length: 30 }, async (_, w) => {
          for (let i = 0; i < 5; i += 1) {
            await pool.query(`insert into ${t} (id, v, secret) values ($1, 'v', 's3cr3t')`, [w * 100 + i]);
          }
        });
        const ddl = (async () => {
          for (let i = 0; i < 4; i += 1) {
            await migrator.query(`alter table ${t} add column c${i} int`);
            await migrator.query(`alter table ${t} alter column v set statistics ${100 + i}`);
            await migrator.query(`alter table ${t} rename column c${i} to d${i}`);
          }
        })();
        await Promise.all([...writers, ddl]);
      } finally {
        await migrator.end();
        await pool.end();
      }
      const rows = await changesFor(db(), 'public', t);
      const ids = rows.map((r) => (r.table_pk as { id: number }).id).sort((x, y) => x - y);
      const expected = Array.from({ length: 30 }, (_, w) => [0, 1, 2, 3, 4].map((i) => w * 100 + i)).flat();
      expect(ids).toEqual(expected);
      expect(rows.filter((r) => r.data_after?.secret !== '[REDACTED]')).toEqual([]);
    });

    it("a non-superuser table owner cannot mark its DDL as Threadline's, drop capture, or skip regeneration", async () => {
      const t = uniqueName('owned');
      const role = uniqueName('tblowner');
      await db().exec(
        `create role ${role}; create table ${t} (id int primary key, v text); alter table ${t} owner to ${role}`,
      );
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const c = new pg.Client({ connectionString: db().server!.url });
      await c.connect();
      try {
        await c.query(`set role ${role}`);
        await expect(c.query('select threadline.internal_begin()')).rejects.toThrow(
          /permission denied for function internal_begin/,
        );
        await expect(c.query("insert into threadline.internal_nonce values ('x')")).rejects.toThrow(
          /permission denied for table internal_nonce/,
        );
        await c.query('begin');
        await c.query("set local threadline.syncing = 'on'");
        await expect(c.query(`drop trigger threadline_capture_update on ${t}`)).rejects.toThrow(/is audited/);
        await c.query('rollback');
        await c.query(
          `begin; set local threadline.syncing = 'on'; alter table ${t} add column w text; commit`,
        );
        await c.query(`insert into ${t} values (1, 'a', 'b'); update ${t} set w = 'c'`);
      } finally {
        await c.end();
      }
      const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
      expect(rows.map((r) => r.changed_fields)).toEqual([['w']]);
      await db().exec(`drop table ${t}; drop role ${role}`);
    });

    it('follows a rename of a masked column with a hostile name, and hands an attached audited table to its audited parent', async () => {
      const t = uniqueName('Host"ile');
      const q = `"${t.replaceAll('"', '""')}"`;
      await db().exec(`create table ${q} (id int primary key, "e-mail$fn$" text, "note" text)`);
      const key = `public.${q}`;
      const tl = await installed(db(), { [key]: { mask: ['e-mail$fn$'] } });
      await tl.installTriggers({ tables: [key] });
      await db().exec(`alter table ${q} rename column "e-mail$fn$" to "ma""il"`);
      await db().exec(`insert into ${q} values (1, 'secret', 'x')`);
      expect((await changesFor(db(), 'public', t)).map((r) => r.data_after)).toEqual([
        { id: 1, 'ma"il': '[REDACTED]', note: 'x' },
      ]);

      const p = uniqueName('parent');
      await db().exec(
        `create table ${p} (id int, region text, primary key (id, region)) partition by list (region);
         create table ${p}_eu (id int, region text, primary key (id, region));`,
      );
      await installed(db(), { [p]: {}, [`${p}_eu`]: {} }).then((x) => x.installTriggers());
      await db().exec(`alter table ${p} attach partition ${p}_eu for values in ('eu')`);
      await db().exec(`insert into ${p} values (1, 'eu')`);
      expect((await changesFor(db(), 'public', p)).map((r) => r.table_pk)).toEqual([{ id: 1, region: 'eu' }]);
      expect(await changesFor(db(), 'public', `${p}_eu`)).toEqual([]);
    });
  },
  ['postgres'],
);
