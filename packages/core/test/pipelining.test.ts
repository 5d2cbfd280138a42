import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { canPipeline } from '../src/db/pg-pipeline.js';
import { ActorRef, createThreadline, runWithAuditContext } from '../src/index.js';
import { changesFor, installed, uniqueName } from './helpers.js';

describeEachDb(
  'round trips with node-postgres',
  (db) => {
    async function withClient<T>(
      fn: (client: pg.Client, roundTrips: () => number) => Promise<T>,
    ): Promise<T> {
      const client = new pg.Client({ connectionString: db().server!.url });
      await client.connect();
      let count = 0;
      (client as unknown as { connection: NodeJS.EventEmitter }).connection.on(
        'readyForQuery',
        () => count++,
      );
      try {
        return await fn(client, () => {
          const n = count;
          count = 0;
          return n;
        });
      } finally {
        await client.end();
      }
    }

    it('sends an attributed autocommit write in one round trip, atomically', async () => {
      const t = uniqueName('rt');
      await db().exec(`create table ${t} (id int primary key)`);
      await (await installed(db())).installTriggers({ tables: [t] });
      await withClient(async (client, roundTrips) => {
        expect(canPipeline(client)).toBe(true);
        const tl = createThreadline({ db: client });
        roundTrips();
        const res = await runWithAuditContext({ actor: ActorRef.user('rt') }, () =>
          tl.query<{ id: number }>(`insert into ${t} values (1) returning id`),
        );
        expect(res.rows).toEqual([{ id: 1 }]);
        expect(roundTrips()).toBe(1);
        // A failing statement rolls the binding back with it and leaves the connection idle.
        await expect(
          runWithAuditContext({ actor: ActorRef.user('rt') }, () => tl.query(`insert into ${t} values (1)`)),
        ).rejects.toThrow(/duplicate key/);
        expect((client as unknown as { getTransactionStatus(): string }).getTransactionStatus()).toBe('I');
        const { rows } = await client.query("select current_setting('threadline.actor_ref', true) as a");
        expect(rows[0].a).toBe('');
      });
      const rows = await db().sql<{ actor: string }>(
        `select t.actor_ref->>'id' as actor from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1`,
        [t],
      );
      expect(rows).toEqual([{ actor: 'rt' }]);
    });

    it('binds a transaction in the same round trip as BEGIN, and reads the audit id with COMMIT', async () => {
      const t = uniqueName('rt_tx');
      await db().exec(`create table ${t} (id int primary key)`);
      await (await installed(db())).installTriggers({ tables: [t] });
      await withClient(async (client, roundTrips) => {
        const tl = createThreadline({ db: client });
        roundTrips();
        const out = await runWithAuditContext({ actor: ActorRef.user('tx') }, () =>
          tl.transaction((tx) => tx.query(`insert into ${t} values (1)`)),
        );
        expect(out.auditTransactionId).toMatch(/^\d+$/);
        // (BEGIN + binding), the insert, (audit id + COMMIT): as many as BEGIN; insert; COMMIT.
        expect(roundTrips()).toBe(3);
      });
      expect((await changesFor(db(), 'public', t)).map((r) => r.op)).toEqual(['insert']);
    });

    it('rolls back when the binding itself fails after a pipelined BEGIN', async () => {
      await withClient(async (client) => {
        const tl = createThreadline({ db: client });
        // A context value PostgreSQL rejects (a NUL byte cannot be sent as text) fails the pipelined binding.
        await expect(
          tl.client.transaction(async () => 'never', {
            start: { sql: 'select set_config($1, $2, true)', params: ['threadline.actor_ref', 'a\u0000b'] },
          }),
        ).rejects.toMatchObject({ code: '22021', message: expect.stringMatching(/invalid byte sequence/) });
        expect((client as unknown as { getTransactionStatus(): string }).getTransactionStatus()).toBe('I');
      });
    });
  },
  ['postgres'],
);
