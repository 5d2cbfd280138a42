import { describeEachDb } from '@threadline/test-utils';
import pg from 'pg';
import { expect, it } from 'vitest';
import { sessionStoreOf } from '../src/db/serial-queue.js';
import {
  ActorRef,
  createThreadline,
  runWithAuditContext,
  type SqlSession,
  type Threadline,
} from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/** Several round trips on `tx`: enough for concurrent work on the connection to finish meanwhile. */
async function roundTrips(tx: SqlSession, n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await tx.query('select 1');
}

describeEachDb('nested transactions running concurrently on one transaction', (db) => {
  async function table(): Promise<{ tl: Threadline; t: string; ids: () => Promise<number[]> }> {
    const t = uniqueName('nestc');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const ids = async () =>
      (await db().sql<{ id: number }>(`select id from ${t} order by id`)).map((r) => r.id);
    return { tl, t, ids };
  }

  it('a sibling rolling back its savepoint never undoes a nested transaction that reported success', async () => {
    const { tl, t, ids } = await table();
    const out = await runWithAuditContext({ actor: ActorRef.user('n') }, () =>
      tl.transaction(async () => {
        const [a, b] = await Promise.allSettled([
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} values (1)`);
            await roundTrips(tx);
            throw new Error('A fails');
          }),
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} values (2)`);
            return 'B done';
          }),
        ]);
        await tl.query(`insert into ${t} values (3)`);
        return [a.status, b.status === 'fulfilled' ? b.value.result : b.reason];
      }),
    );
    expect(out.result).toEqual(['rejected', 'B done']);
    expect(await ids()).toEqual([2, 3]);
  });

  it("the outer scope's statements wait while a nested transaction is open", async () => {
    const { tl, t, ids } = await table();
    await runWithAuditContext({ actor: ActorRef.user('n') }, () =>
      tl.transaction(async (outer) => {
        const results = await Promise.allSettled([
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} values (1)`);
            await roundTrips(tx);
            throw new Error('A fails');
          }),
          tl.query(`insert into ${t} values (3)`),
          outer.query(`insert into ${t} values (4)`),
          tl.recordAction('nested.probe'),
        ]);
        expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled', 'fulfilled']);
      }),
    );
    expect(await ids()).toEqual([3, 4]);
  });

  it('runs sibling nested transactions one at a time in call order; inside one, the outer tx is its own', async () => {
    const { tl, t, ids } = await table();
    const steps: string[] = [];
    await tl.transaction(async (outer) => {
      await Promise.all(
        ['a', 'b', 'c'].map((name, i) =>
          tl
            .transaction(async (tx) => {
              steps.push(`${name}+`);
              // The outer tx used inside a nested callback is that nested transaction's work:
              // it runs at once (no deadlock) and is undone with it.
              await outer.query(`insert into ${t} values ($1)`, [i]);
              await roundTrips(tx, 3);
              steps.push(`${name}-`);
              if (name === 'b') throw new Error('b fails');
            })
            .catch(() => undefined),
        ),
      );
    });
    expect(steps).toEqual(['a+', 'a-', 'b+', 'b-', 'c+', 'c-']);
    expect(await ids()).toEqual([0, 2]);
  });

  it('a nested transaction waits for nested transactions its callback left running', async () => {
    const { tl, t, ids } = await table();
    let left: Promise<unknown> | undefined;
    await tl.transaction(async () => {
      await tl.transaction(async () => {
        // Not awaited: it must still finish inside this nested transaction, not run on into a
        // sibling's savepoint below (whose ROLLBACK TO would undo it).
        left = tl.transaction(async (tx) => {
          await roundTrips(tx, 3);
          await tx.query(`insert into ${t} values (1)`);
          await roundTrips(tx, 3);
        });
      });
      await Promise.allSettled([
        tl.transaction(async (tx) => {
          await tx.query(`insert into ${t} values (2)`);
          await roundTrips(tx);
          throw new Error('sibling fails');
        }),
      ]);
      await expect(left).resolves.toBeDefined();
    });
    expect(await ids()).toEqual([1]);
  });

  it('the transaction waits for a nested transaction its callback left running before COMMIT', async () => {
    const { tl, t, ids } = await table();
    let left: Promise<unknown> | undefined;
    await tl.transaction(async () => {
      // Not awaited: it runs to its end inside the transaction, all or nothing.
      left = tl.transaction(async (tx) => {
        await tx.query(`insert into ${t} values (1)`);
        await roundTrips(tx, 3);
        await tx.query(`insert into ${t} values (2)`);
      });
    });
    await expect(left).resolves.toBeDefined();
    expect(await ids()).toEqual([1, 2]);
  });

  it('a nested transaction whose callback caught a failed statement rolls back and rejects; the outer continues', async () => {
    const { tl, t, ids } = await table();
    const out = await tl.transaction(async (outer) => {
      const nested = tl.transaction(async (tx) => {
        await tx.query(`insert into ${t} values (1)`);
        await tx.query('select 1/0').catch(() => undefined);
        return 'caught';
      });
      await expect(nested).rejects.toMatchObject({ code: '25P02' });
      await outer.query(`insert into ${t} values (2)`);
      return 'outer done';
    });
    expect(out.result).toBe('outer done');
    expect(await ids()).toEqual([2]);
  });
});

describeEachDb(
  'nested transactions inside a transaction an older copy of core opened on one pg Client',
  (db) => {
    it('become savepoints on its session that take turns', async () => {
      const t = uniqueName('legacy');
      await db().exec(`create table ${t} (id int primary key)`);
      await installed(db());
      const client = new pg.Client({ connectionString: db().server!.url });
      await client.connect();
      try {
        const tl = createThreadline({ db: client });
        await tl.installTriggers({ tables: [t] });
        // What an older copy keeps in the shared store while its transaction runs.
        const legacy = {
          closed: false,
          savepoints: 0,
          session: {
            query: async (sql: string, params?: readonly unknown[]) => {
              const r = await client.query(sql, params as unknown[]);
              return { rows: r.rows, rowCount: r.rowCount };
            },
            exec: async (sql: string) => void (await client.query(sql)),
          } as SqlSession,
        };
        await client.query('begin');
        const [a, b] = await sessionStoreOf<unknown>(client).run(legacy, () =>
          Promise.allSettled([
            tl.transaction(async (tx) => {
              await tx.query(`insert into ${t} values (1)`);
              await roundTrips(tx);
              throw new Error('A fails');
            }),
            tl.transaction((tx) => tx.query(`insert into ${t} values (2)`)),
          ]),
        );
        legacy.closed = true;
        await client.query('commit');
        expect([a.status, b.status]).toEqual(['rejected', 'fulfilled']);
        expect((await db().sql<{ id: number }>(`select id from ${t}`)).map((r) => r.id)).toEqual([2]);
      } finally {
        await client.end();
      }
    });
  },
  ['postgres'],
);
