import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ActorRef, createThreadline, type Threadline } from '@threadline/core';
import { callAs, eventually, type Service, startServices } from '@threadline/example-shared/testing';
import {
  createTestDatabase,
  postgresEnabled,
  REDIS_URL,
  redisConnection,
  redisEnabled,
  type TestDatabase,
} from '@threadline/test-utils';
import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cwd = fileURLToPath(new URL('..', import.meta.url));
const prefix = `tl-example-${randomBytes(4).toString('hex')}`; // this run's own BullMQ keys

interface Order {
  id: number;
  status: string;
}

describe.runIf(postgresEnabled() && redisEnabled())(
  'orders API and fulfilment worker (two processes)',
  () => {
    let db: TestDatabase;
    let tl: Threadline;
    let api: Service;
    let services: Service[] = [];

    beforeAll(async () => {
      db = await createTestDatabase('tl_example_orders');
      tl = createThreadline({ db: db.pool });
      const env = { DATABASE_URL: db.url, REDIS_URL, BULLMQ_PREFIX: prefix, PORT: '0' };
      const tsx = (entry: string) => ['--import', 'tsx', entry];
      services = await startServices([
        { name: 'orders API', cwd, args: tsx('src/api.ts'), env, ready: /listening on (http:\S+)/ },
        { name: 'fulfilment worker', cwd, args: tsx('src/worker.ts'), env, ready: /worker ready/ },
      ]);
      api = services[0]!;
    });

    afterAll(async () => {
      await Promise.all(services.map((s) => s.stop()));
      const queue = new Queue('fulfilment', { connection: redisConnection(), prefix });
      await queue.obliterate({ force: true }).finally(() => queue.close());
      await db?.drop();
    });

    /** Place an order as `user` and wait until the worker process has shipped it. */
    async function orderAndWait(user: string, body: object, headers: Record<string, string> = {}) {
      const placed = await callAs<Order>(user, `${api.url}/orders`, { body, headers });
      expect(placed.status).toBe(201);
      await eventually(`order ${placed.body.id} to ship`, async () => {
        const { body: order } = await callAs<Order>(user, `${api.url}/orders/${placed.body.id}`);
        return order.status === 'shipped' ? order : undefined;
      });
      return placed.body.id;
    }

    let aliceOrder: number;
    let bobOrder: number;

    it('attributes each order to its user, and the job writes to the user who enqueued it', async () => {
      [aliceOrder, bobOrder] = await Promise.all([
        orderAndWait(
          'alice',
          { sku: 'mug', quantity: 2, shippingAddress: '1 Main St' },
          { 'x-request-id': 'req-alice-1', 'x-correlation-id': 'checkout-alice' },
        ),
        orderAndWait('bob', { sku: 'tshirt', shippingAddress: '9 Side Rd' }), // no ids: generated
      ]);

      // Alice's order row: inserted by the API request, updated by the job (newest first).
      const history = await tl.history('orders.orders', aliceOrder);
      const [shipped, placed] = history.entries;
      expect(history.entries.map((c) => c.op)).toEqual(['update', 'insert']);
      expect(placed).toMatchObject({ actor: ActorRef.user('alice'), correlationId: 'checkout-alice' });
      expect(placed!.dataAfter).toMatchObject({ sku: 'mug', shipping_address: '[REDACTED]' });
      expect(shipped).toMatchObject({ actor: ActorRef.user('alice'), correlationId: 'checkout-alice' });
      expect(shipped!.changedFields).toEqual(['status']);

      const request = await tl.auditTransaction(placed!.transactionId);
      expect(request?.transaction).toMatchObject({
        source: 'orders-api',
        requestId: 'req-alice-1',
        jobId: null,
      });

      // The job: same actor and correlation id, its own job id, the order request as its cause,
      // and the order update and the shipment insert in one audit transaction.
      const job = await tl.auditTransaction(shipped!.transactionId);
      expect(job?.transaction).toMatchObject({
        source: 'bullmq',
        actor: ActorRef.user('alice'),
        correlationId: 'checkout-alice',
        causationId: 'req-alice-1',
        requestId: null,
        meta: { queue: 'fulfilment', attempt: 1 },
      });
      expect(job?.transaction.jobId).toMatch(/^\d+$/);
      expect(job?.changes.map((c) => `${c.change.op} ${c.change.tableName}`).sort()).toEqual([
        'insert shipments',
        'update orders',
      ]);

      // Bob sent no ids: the API generated a request id, used it as the correlation id, and the job
      // carries both.
      const [bobShipped, bobPlaced] = (await tl.history('orders.orders', bobOrder)).entries;
      const bobRequest = (await tl.auditTransaction(bobPlaced!.transactionId))!.transaction;
      const bobJob = (await tl.auditTransaction(bobShipped!.transactionId))!.transaction;
      expect(bobRequest.requestId).toMatch(/^[0-9a-f-]{36}$/);
      expect(bobRequest).toMatchObject({ actor: ActorRef.user('bob'), correlationId: bobRequest.requestId });
      expect(bobJob).toMatchObject({
        actor: ActorRef.user('bob'),
        correlationId: bobRequest.requestId,
        causationId: bobRequest.requestId,
      });
    });

    it('captures every write, each under the right actor', async () => {
      const rows = await db.pool.query<{ table: string; id: number; customer: string }>(
        `select 'orders' as table, id, customer_id as customer from orders.orders
       union all
       select 'shipments', s.id, o.customer_id from orders.shipments s join orders.orders o on o.id = s.order_id`,
      );
      const { entries, hasMore } = await tl.timeline({ tableSchema: 'orders' }, { pageSize: 1000 });
      expect(hasMore).toBe(false);
      const inserts = entries.filter((c) => c.op === 'insert');
      expect(
        inserts
          .map((c) => `${c.tableName} ${c.tablePk.id} ${c.actor && 'id' in c.actor && c.actor.id}`)
          .sort(),
      ).toEqual(rows.rows.map((r) => `${r.table} ${r.id} ${r.customer}`).sort());
      expect(entries.filter((c) => c.op === 'update')).toHaveLength(2); // placed → shipped, twice

      const alice = await tl.timeline({ actor: ActorRef.user('alice') });
      expect(alice.entries).toHaveLength(3);
      expect(new Set(alice.entries.map((c) => c.correlationId))).toEqual(new Set(['checkout-alice']));
      expect(
        alice.entries.every((c) => c.tablePk.id === aliceOrder || c.dataAfter?.order_id === aliceOrder),
      ).toBe(true);
    });

    it('answers 401 without a user, and writes nothing', async () => {
      const before = await tl.timeline({ tableSchema: 'orders' }, { pageSize: 1000 });
      const res = await fetch(`${api.url}/orders`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ sku: 'mug', shippingAddress: 'x' }),
      });
      expect(res.status).toBe(401);
      const after = await tl.timeline({ tableSchema: 'orders' }, { pageSize: 1000 });
      expect(after.entries).toHaveLength(before.entries.length);
    });

    it('serves the operator surface at /audit to operators only, with the orders on its timeline', async () => {
      const denied = await fetch(`${api.url}/audit/timeline`, { headers: { 'x-user-id': 'alice' } });
      expect(denied.status).toBe(403);
      const page = await fetch(`${api.url}/audit/timeline?correlationId=checkout-alice`, {
        headers: { 'x-user-id': 'ops' },
      });
      expect(page.status).toBe(200);
      const html = await page.text();
      expect(html).toContain('Signed in as <code>admin:ops</code>');
      expect(html).toContain(`href="/audit/row?table=orders.orders&amp;pk=${aliceOrder}"`);
    });
  },
);
