import { createTestDatabase, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

/**
 * One pg Client shared by many async contexts (issue 16): everything Threadline sends through it
 * takes turns, however many Threadline instances wrap it and whatever work a transaction leaves
 * behind. 30+ contexts, each row checked against the actor it was written under.
 */
const N = 30;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(postgresEnabled())('a shared pg Client', () => {
  let server: TestDatabase;
  let client: pg.Client;
  beforeAll(async () => {
    server = await createTestDatabase();
    await createThreadline({ db: server.pool }).install();
    client = new pg.Client({ connectionString: server.url });
    await client.connect();
  });
  afterAll(async () => {
    await client?.end();
    await server?.drop();
  });

  async function auditedTable(tl: Threadline): Promise<string> {
    const t = uniqueName('shared');
    await server.pool.query(`create table ${t} (id int primary key, note text)`);
    await tl.installTriggers({ tables: [t] });
    return t;
  }
  async function actorsById(t: string): Promise<Record<number, string | null>> {
    const { rows } = await server.pool.query(
      `select (c.table_pk->>'id')::int as id, t.actor_ref->>'id' as actor
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by c.id`,
      [t],
    );
    return Object.fromEntries(rows.map((r) => [r.id, r.actor]));
  }
  const expected = (from: number, actor: (i: number) => string | null) =>
    Object.fromEntries(Array.from({ length: N }, (_, i) => [from + i, actor(i)]));

  it('runs a tl.transaction that left-behind work starts after its own transaction under its own actor', async () => {
    const tl = createThreadline({ db: client });
    const t = await auditedTable(tl);
    const late: Promise<unknown>[] = [];
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, () =>
          tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} (id) values ($1)`, [i]);
            // Not awaited: starts once the callback settled, while (or after) its COMMIT is sent.
            late.push(
              Promise.resolve()
                .then(() => sleep(0))
                .then(() =>
                  tl.transaction(async (lateTx) => {
                    await lateTx.query(`insert into ${t} (id) values ($1)`, [1000 + i]);
                    await sleep(1);
                    await lateTx.query(`update ${t} set note = 'late' where id = $1`, [1000 + i]);
                  }),
                ),
            );
          }),
        ),
      ),
    );
    await Promise.all(late);
    expect(await actorsById(t)).toEqual({
      ...expected(0, (i) => `u${i}`),
      ...expected(1000, (i) => `u${i}`),
    });
  });

  it('serializes one Client given to two Threadline instances', async () => {
    const first = createThreadline({ db: client });
    const second = createThreadline({ db: client });
    const t = await auditedTable(first);
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, async () => {
          const tl = i % 2 === 0 ? first : second;
          await tl.transaction(async (tx) => {
            await tx.query(`insert into ${t} (id) values ($1)`, [i]);
            await sleep(1);
            await tx.query(`update ${t} set note = 'x' where id = $1`, [i]);
          });
          // A plain statement through the other instance lands in no one else's transaction.
          await (i % 2 === 0 ? second : first).query(`insert into ${t} (id) values ($1)`, [1000 + i]);
        }),
      ),
    );
    expect(await actorsById(t)).toEqual({
      ...expected(0, (i) => `u${i}`),
      ...expected(1000, (i) => `u${i}`),
    });
  });

  it("nests a second instance's transaction in the first one's as a savepoint", async () => {
    const first = createThreadline({ db: client });
    const second = createThreadline({ db: client });
    const t = await auditedTable(first);
    await Promise.all(
      Array.from({ length: N }, (_, i) =>
        runWithAuditContext({ actor: ActorRef.user(`u${i}`) }, () =>
          first.transaction(async (tx) => {
            await second.transaction(async (inner) => {
              await inner.query(`insert into ${t} (id) values ($1)`, [i]);
            });
            await sleep(1);
            await tx.query(`insert into ${t} (id) values ($1)`, [1000 + i]);
            // A failing inner transaction rolls back to its savepoint, not the outer transaction.
            await second
              .transaction(async (inner) => {
                await inner.query(`insert into ${t} (id) values ($1)`, [3000 + i]);
                throw new Error('boom');
              })
              .catch(() => undefined);
            await tx.query(`insert into ${t} (id) values ($1)`, [2000 + i]);
          }),
        ),
      ),
    );
    expect(await actorsById(t)).toEqual({
      ...expected(0, (i) => `u${i}`),
      ...expected(1000, (i) => `u${i}`),
      ...expected(2000, (i) => `u${i}`),
    });
    expect(client.getTransactionStatus?.() ?? 'I').toBe('I');
  });
});

describe('the connection queues', () => {
  it('are one per connection object, shared by two loaded copies of core', async () => {
    const one = await import('../src/db/serial-queue.js');
    // A second copy of the module, as a second installed copy of @threadline/core would be.
    const other = (await import(
      /* @vite-ignore */ `../src/db/serial-queue.js?copy=${Date.now()}`
    )) as typeof one;
    expect(other).not.toBe(one);
    const connection = {};
    expect(other.queueOf(connection)).toBe(one.queueOf(connection));
    expect(one.queueOf({})).not.toBe(one.queueOf(connection));
  });
});
