import { withAuditContext } from '@threadline/bullmq';
import { getAuditContext } from '@threadline/core';
import { type Job, Worker } from 'bullmq';
import { knex } from './db.js';
import { connection, type FulfilmentJob, prefix, QUEUE } from './queue.js';

/** Optional: the billing service (examples/nestjs-typeorm) to invoice shipped orders. */
const billingUrl = process.env.BILLING_URL;

/** Ships an order. It runs in the job's audit context: the user who ordered, the order request as cause. */
async function ship(job: Job<FulfilmentJob>): Promise<void> {
  const { orderId } = job.data;
  await knex.transaction(async (trx) => {
    const updated = await trx('orders.orders')
      .where({ id: orderId, status: 'placed' })
      .update({ status: 'shipped' });
    if (updated === 0) return; // shipped by an earlier attempt of this job
    await trx('orders.shipments').insert({
      order_id: orderId,
      carrier: 'acme-post',
      tracking_number: `AP-${orderId}-${job.id}`,
    });
  });
  if (billingUrl) await invoice(orderId);
}

/** Asks billing to invoice the order for its customer, forwarding the correlation id. Idempotent. */
async function invoice(orderId: number): Promise<void> {
  const order = await knex('orders.orders').where({ id: orderId }).first('customer_id', 'amount_cents');
  const correlationId = getAuditContext()?.correlationId;
  const res = await fetch(`${billingUrl}/invoices`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-user-id': order.customer_id,
      ...(correlationId && { 'x-correlation-id': correlationId }),
    },
    body: JSON.stringify({ orderId, amountCents: order.amount_cents }),
  });
  if (!res.ok) throw new Error(`billing answered ${res.status}`); // the job fails; BullMQ retries it
}

const worker = new Worker<FulfilmentJob>(QUEUE, withAuditContext(ship), { connection, prefix });
await worker.waitUntilReady();
console.log(`fulfilment worker ready${billingUrl ? ` (invoicing through ${billingUrl})` : ''}`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, async () => {
    await worker.close(); // lets the running job finish
    await knex.destroy();
    process.exit(0);
  });
}
