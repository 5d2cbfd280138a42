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

const dir = (example: string) => fileURLToPath(new URL(`../../${example}`, import.meta.url));
const tsx = (entry: string) => ['--import', 'tsx', entry];
const prefix = `tl-example-${randomBytes(4).toString('hex')}`;
const listening = /listening on (http:\S+)/;

describe.runIf(postgresEnabled() && redisEnabled())('all services on one database', () => {
  let db: TestDatabase;
  let tl: Threadline;
  let services: Service[] = [];
  let orders: Service;
  let billing: Service;
  let support: Service;

  beforeAll(async () => {
    db = await createTestDatabase('tl_example_all');
    tl = createThreadline({ db: db.pool });
    const env = { DATABASE_URL: db.url, REDIS_URL, BULLMQ_PREFIX: prefix, PORT: '0' };
    services = await startServices([
      { name: 'billing', cwd: dir('nestjs-typeorm'), args: ['dist/main.js'], env, ready: listening },
      { name: 'support', cwd: dir('hono-pg'), args: tsx('src/server.ts'), env, ready: listening },
      { name: 'orders API', cwd: dir('express-knex-bullmq'), args: tsx('src/api.ts'), env, ready: listening },
    ]);
    [billing, support, orders] = services as [Service, Service, Service];
    // The worker invoices shipped orders through the billing service, forwarding the correlation id.
    const [worker] = await startServices([
      {
        name: 'fulfilment worker',
        cwd: dir('express-knex-bullmq'),
        args: tsx('src/worker.ts'),
        env: { ...env, BILLING_URL: billing.url },
        ready: /worker ready/,
      },
    ]);
    services.push(worker!);
  });

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    const queue = new Queue('fulfilment', { connection: redisConnection(), prefix });
    await queue.obliterate({ force: true }).finally(() => queue.close());
    await db?.drop();
  });

  /** A checkout: order (orders API) → job (worker) → invoice (billing), then a ticket (support). */
  async function checkout(user: string, correlationId: string) {
    const headers = { 'x-correlation-id': correlationId };
    const order = await callAs<{ id: number }>(user, `${orders.url}/orders`, {
      body: { sku: 'mug', quantity: 3, shippingAddress: '1 Main St' },
      headers: { ...headers, 'x-request-id': `${correlationId}-order` },
    });
    expect(order.status).toBe(201);
    const invoice = await eventually(`the invoice of order ${order.body.id}`, async () => {
      const { body } = await callAs<{ id: number }[]>(
        user,
        `${billing.url}/invoices?orderId=${order.body.id}`,
      );
      return body[0];
    });
    // The browser sends the same correlation id to the support service.
    const ticket = await callAs<{ id: number }>(user, `${support.url}/tickets`, {
      body: { subject: 'Gift wrap?', body: 'Can you wrap it?', orderId: order.body.id },
      headers,
    });
    expect(ticket.status).toBe(201);
    return { orderId: order.body.id, invoiceId: invoice.id, ticketId: ticket.body.id };
  }

  it('groups one checkout across orders API, worker, billing and support under one correlation id', async () => {
    const [alice] = await Promise.all([checkout('alice', 'checkout-alice'), checkout('bob', 'checkout-bob')]);

    const { entries, hasMore } = await tl.timeline({ correlationId: 'checkout-alice' }, { pageSize: 1000 });
    expect(hasMore).toBe(false);
    expect(entries.map((c) => `${c.op} ${c.tableSchema}.${c.tableName}`).sort()).toEqual([
      'insert billing.invoices',
      'insert orders.orders',
      'insert orders.shipments',
      'insert support.messages',
      'insert support.tickets',
      'update orders.orders',
    ]);
    // Everything was done as (or on behalf of) alice, and nothing of bob's checkout is in it.
    expect(entries.every((c) => c.actor?.type === 'user' && c.actor.id === 'alice')).toBe(true);

    // Who wrote what: four processes, three frameworks, one audit trail.
    const txs = new Map<string, string>();
    for (const c of entries) {
      const { transaction } = (await tl.auditTransaction(c.transactionId))!;
      txs.set(`${c.tableSchema}.${c.tableName} ${c.op}`, transaction.source!);
      if (c.tableName === 'invoices') {
        // Billing saw the forwarded correlation id on a request of its own.
        expect(transaction).toMatchObject({ correlationId: 'checkout-alice', causationId: null });
        expect(transaction.requestId).not.toBe('checkout-alice-order');
      }
      if (transaction.source === 'bullmq') expect(transaction.causationId).toBe('checkout-alice-order');
    }
    expect(Object.fromEntries(txs)).toEqual({
      'orders.orders insert': 'orders-api',
      'orders.orders update': 'bullmq',
      'orders.shipments insert': 'bullmq',
      'billing.invoices insert': 'billing',
      'support.tickets insert': 'support',
      'support.messages insert': 'support',
    });

    const invoice = await tl.history('billing.invoices', alice.invoiceId);
    expect(invoice.entries[0]).toMatchObject({
      actor: ActorRef.user('alice'),
      dataAfter: { order_id: alice.orderId, amount_cents: 3600 },
    });

    const bob = await tl.timeline({ correlationId: 'checkout-bob' }, { pageSize: 1000 });
    expect(bob.entries).toHaveLength(6);
    expect(bob.entries.every((c) => c.actor?.type === 'user' && c.actor.id === 'bob')).toBe(true);
  });
});
