import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase, describeEachDb, PG_URL } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { createThreadline } from '../src/index.js';
import { changesFor, installed, uniqueName } from './helpers.js';

const PG_BIN = process.env.TL_PG_BIN ?? '/usr/lib/postgresql/15/bin';

function pgTool(tool: string, args: string[], env: Record<string, string> = {}): string {
  return execFileSync(join(PG_BIN, tool), args, {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describeEachDb(
  'install re-runs, restores, replicas and backups',
  (db) => {
    it('re-running install takes no lock that blocks an open audited transaction', async () => {
      const t = uniqueName('rerun');
      await db().exec(`create table ${t} (id int primary key)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const pool = new pg.Pool({ connectionString: db().server!.url, max: 2 });
      const writer = await pool.connect();
      const installer = await pool.connect();
      try {
        await writer.query('begin');
        await writer.query(`insert into ${t} values (1)`);
        await installer.query("set lock_timeout = '1s'");
        const again = createThreadline({ db: installer });
        const result = await again.install();
        expect(result.findings).toEqual([]);
        await writer.query('commit');
      } finally {
        writer.release();
        installer.release();
        await pool.end();
      }
    });

    it('lets the database owner (not a superuser) pg_dump the database after install', async () => {
      const role = uniqueName('dbowner');
      const name = db().server!.name;
      await db().exec(`create role ${role} login; alter database "${name}" owner to ${role}`);
      try {
        await installed(db());
        const url = new URL(PG_URL);
        const out = pgTool('pg_dump', [
          '-h',
          url.hostname,
          '-p',
          url.port || '5432',
          '-U',
          role,
          '-d',
          name,
          '-n',
          'threadline',
          '-f',
          '/dev/null',
        ]);
        expect(out).toBe('');
      } finally {
        await db().exec(
          `alter database "${name}" owner to current_user; drop owned by ${role}; drop role ${role}`,
        );
      }
    });

    it('moves identity sequences past replicated ids (logical-replication cutover), so audited writes keep working', async () => {
      const t = uniqueName('cutover');
      await db().exec(`create table ${t} (id int primary key)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      // What a subscriber holds after cutover: rows copied with their ids, sequences untouched.
      const [seq] = await db().sql<{ last: string }>(
        'select coalesce(max(id), 0) + 1 as last from threadline.audit_transactions',
      );
      await db().exec(
        `insert into threadline.audit_transactions (id, txid) overriding system value
           select g, 0 from generate_series(${Number(seq!.last)}, ${Number(seq!.last) + 4}) g`,
      );
      await tl.install();
      await db().exec(`insert into ${t} values (1)`);
      expect((await changesFor(db(), 'public', t)).map((r) => r.table_pk)).toEqual([{ id: 1 }]);
    });

    it('install repairs compiled capture left without event triggers (a restore that could not create them)', async () => {
      const t = uniqueName('noevt');
      await db().exec(`create table ${t} (id int primary key, v text)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      const evts = await db().sql<{ evtname: string }>(
        "select evtname from pg_event_trigger where evtname like 'threadline\\_%'",
      );
      for (const e of evts) await db().exec(`drop event trigger ${e.evtname}`);
      await db().exec(`alter table ${t} rename column v to w`);
      await tl.install();
      await db().exec(`insert into ${t} values (1, 'a'); update ${t} set w = 'b'`);
      const rows = (await changesFor(db(), 'public', t)).filter((r) => r.op === 'update');
      expect(rows.map((r) => r.changed_fields)).toEqual([['w']]);
    });

    it('install reports capture triggers the registry does not know (a --schema-only restore)', async () => {
      const t = uniqueName('orphan');
      await db().exec(`create table ${t} (id int primary key, email text)`);
      const tl = await installed(db(), { [t]: { mask: ['email'] } });
      await tl.installTriggers({ tables: [t] });
      await db().exec(`delete from threadline.captured_tables where relid = '${t}'::regclass`);
      const result = await tl.install();
      expect(result.findings.map((f) => [f.code, f.relation])).toEqual([['unregistered', `public.${t}`]]);
      await tl.installTriggers({ tables: [t] });
      expect((await tl.install()).findings).toEqual([]);
    });

    it('keeps the mask on the right column after pg_dump/pg_restore renumbers columns', async () => {
      const t = uniqueName('restored');
      await db().exec(`create table ${t} (id int primary key, gone text, secret text, note text)`);
      await db().exec(`alter table ${t} drop column gone`);
      const tl = await installed(db(), { [t]: { mask: ['secret'] } });
      await tl.installTriggers({ tables: [t] });
      const dir = mkdtempSync(join(tmpdir(), 'tl-restore-'));
      const target = await createTestDatabase('tl_restore');
      try {
        const url = new URL(PG_URL);
        const conn = [
          '-h',
          url.hostname,
          '-p',
          url.port || '5432',
          '-U',
          decodeURIComponent(url.username) || 'postgres',
        ];
        pgTool('pg_dump', [...conn, '-Fc', '-d', db().server!.name, '-f', join(dir, 'dump')]);
        pgTool('pg_restore', [...conn, '-d', target.name, join(dir, 'dump')]);
        await target.pool.query(`alter table ${t} add column extra int`);
        await target.pool.query(`insert into ${t} values (1, 'top secret', 'plain', 5)`);
        const { rows } = await target.pool.query<{ data_after: unknown }>(
          'select data_after from threadline.audit_changes where table_name = $1',
          [t],
        );
        expect(rows.map((r) => r.data_after)).toEqual([
          { id: 1, secret: '[REDACTED]', note: 'plain', extra: 5 },
        ]);
      } finally {
        await target.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  },
  ['postgres'],
);
