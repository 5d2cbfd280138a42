import type { AddressInfo } from 'node:net';
import { auditJobData } from '@threadline/bullmq';
import { ActorRef } from '@threadline/core';
import { auditContext, operatorSurface } from '@threadline/express';
import { Queue } from 'bullmq';
import express from 'express';
import { knex, migrate, threadline } from './db.js';
import { connection, type FulfilmentJob, prefix, QUEUE } from './queue.js';

const PRICES: Record<string, number> = { mug: 1200, tshirt: 2500 };
const fulfilment = new Queue<FulfilmentJob>(QUEUE, { connection, prefix });

const app = express();
app.use(express.json());
// The operator surface for support and audit. Stand-in authorization: a real service checks its
// session (req.user) here; this example lets the user named by OPERATOR_USER_ID in.
const operators = new Set((process.env.OPERATOR_USER_ID ?? 'ops').split(','));
app.use(
  '/audit',
  operatorSurface({
    threadline,
    basePath: '/audit',
    authorize: (req) => {
      const user = req.get('x-user-id');
      return user && operators.has(user)
        ? { actor: ActorRef.admin(user), canExport: true, canSeeCoverage: true, canSeePolicy: true }
        : false;
    },
  }),
);
// Stand-in for real authentication: the caller's user id arrives in the x-user-id header.
app.use((req, res, next) => {
  if (req.get('x-user-id')) next();
  else res.status(401).json({ error: 'send an x-user-id header' });
});
// One audit context per request: the actor, x-request-id and x-correlation-id (or generated ids).
app.use(auditContext({ source: 'orders-api', actor: (req) => ActorRef.user(req.get('x-user-id')!) }));

app.post('/orders', async (req, res) => {
  const { sku, quantity = 1, shippingAddress } = req.body ?? {};
  const price = PRICES[sku];
  if (!price || !Number.isInteger(quantity) || quantity < 1 || typeof shippingAddress !== 'string') {
    res.status(400).json({ error: 'send { sku: "mug" | "tshirt", quantity?, shippingAddress }' });
    return;
  }
  // A single autocommit insert: @threadline/knex wraps it in a short transaction bound to this request.
  const [order] = await knex('orders.orders')
    .insert({
      customer_id: req.get('x-user-id'),
      sku,
      quantity,
      amount_cents: price * quantity,
      shipping_address: shippingAddress,
    })
    .returning(['id', 'status', 'amount_cents']);
  // The job carries the request's audit context: same actor and correlation id, this request as its cause.
  await fulfilment.add('ship', auditJobData({ orderId: order.id }), {
    attempts: 3,
    backoff: { type: 'exponential', delay: 1000 },
  });
  res.status(201).json(order);
});

app.get('/orders/:id', async (req, res) => {
  const order = await knex('orders.orders')
    .where({ id: Number(req.params.id), customer_id: req.get('x-user-id') })
    .first(['id', 'sku', 'quantity', 'amount_cents', 'status']);
  if (order) res.json(order);
  else res.status(404).json({ error: 'no such order' });
});

await migrate();
const server = app.listen(Number(process.env.PORT ?? 3001), () => {
  const { port } = server.address() as AddressInfo;
  console.log(`orders API listening on http://127.0.0.1:${port}`);
});
