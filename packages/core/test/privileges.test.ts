import { randomBytes } from 'node:crypto';
import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext } from '../src/index.js';
import { installed } from './helpers.js';

describeEachDb(
  'privileges of an ordinary application role',
  (db) => {
    it('captures its writes, lets it run DDL and record actions, but not read or rewrite audit rows', async () => {
      const role = `tl_app_${randomBytes(4).toString('hex')}`;
      const server = db().server!;
      await db().exec(`create role ${role} login nosuperuser; create schema app authorization ${role};
        grant create on database "${server.name}" to ${role};`);
      try {
        const admin = await installed(db());
        const url = new URL(server.url);
        url.username = role;
        const pool = new pg.Pool({ connectionString: url.toString(), max: 2 });
        try {
          await pool.query('create table app.orders (id int primary key, total int)');
          await admin.installTriggers({ tables: ['app.orders'] });
          const tl = createThreadline({ db: pool });
          const out = await runWithAuditContext({ actor: ActorRef.user('shop') }, () =>
            tl.transaction(async (tx) => {
              await tx.query('insert into app.orders values (1, 10)');
              return tl.recordAction('order.placed');
            }),
          );
          expect(out.result.auditTransactionId).toBe(out.auditTransactionId);
          // DDL by the role still works (the sync event trigger runs as its owner) and keeps capture current.
          await pool.query('create table app.other (id int primary key)');
          await pool.query('alter table app.orders add column note text');
          await pool.query("update app.orders set note = 'gift' where id = 1");
          const rows = await db().sql<{ op: string; changed_fields: string[] | null; actor: string }>(
            `select c.op, c.changed_fields, t.actor_ref->>'id' as actor from threadline.audit_changes c
               left join threadline.audit_transactions t on t.id = c.transaction_id where c.table_schema = 'app' order by c.id`,
          );
          expect(rows).toEqual([
            { op: 'insert', changed_fields: null, actor: 'shop' },
            { op: 'update', changed_fields: ['note'], actor: null },
          ]);
          await expect(pool.query('select * from threadline.audit_changes')).rejects.toThrow(
            /permission denied/,
          );
          await expect(pool.query('delete from threadline.audit_transactions')).rejects.toThrow(
            /permission denied/,
          );
          await expect(pool.query('update threadline.audit_changes set op = op')).rejects.toThrow(
            /permission denied/,
          );
        } finally {
          await pool.end();
        }
      } finally {
        await db().exec(`drop schema app cascade; revoke all on database "${server.name}" from ${role};
          drop owned by ${role}; drop role ${role};`);
      }
    });
  },
  ['postgres'],
);
