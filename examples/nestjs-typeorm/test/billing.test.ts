import { fileURLToPath } from 'node:url';
import { ActorRef, createThreadline, type Threadline } from '@threadline/core';
import { callAs, type Service, startService } from '@threadline/example-shared/testing';
import { createTestDatabase, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cwd = fileURLToPath(new URL('..', import.meta.url));

interface Invoice {
  id: number;
  orderId: number;
  status: string;
}

describe.runIf(postgresEnabled())('billing service (NestJS + TypeORM, compiled)', () => {
  let db: TestDatabase;
  let tl: Threadline;
  let billing: Service;

  beforeAll(async () => {
    db = await createTestDatabase('tl_example_billing');
    tl = createThreadline({ db: db.pool });
    // The compiled app (`pnpm test` runs tsc first): Nest's DI needs the decorator metadata tsc emits.
    billing = await startService({
      name: 'billing service',
      cwd,
      args: ['dist/main.js'],
      env: { DATABASE_URL: db.url, PORT: '0' },
      ready: /listening on (http:\S+)/,
    });
  });

  afterAll(async () => {
    await billing?.stop();
    await db?.drop();
  });

  const changeCount = async () =>
    (await tl.timeline({ tableSchema: 'billing' }, { pageSize: 1000 })).entries.length;

  let alice: Invoice;
  let bob: Invoice;

  it('attributes each invoice to the user whose request created it', async () => {
    const [a, b] = await Promise.all([
      callAs<Invoice>('alice', `${billing.url}/invoices`, { body: { orderId: 101, amountCents: 2400 } }),
      callAs<Invoice>('bob', `${billing.url}/invoices`, { body: { orderId: 202, amountCents: 2500 } }),
    ]);
    expect([a.status, b.status]).toEqual([201, 201]);
    alice = a.body;
    bob = b.body;

    const [aliceInsert] = (await tl.history('billing.invoices', alice.id)).entries;
    const [bobInsert] = (await tl.history('billing.invoices', bob.id)).entries;
    expect(aliceInsert).toMatchObject({ op: 'insert', actor: ActorRef.user('alice') });
    expect(bobInsert).toMatchObject({ op: 'insert', actor: ActorRef.user('bob') });
    const tx = await tl.auditTransaction(aliceInsert!.transactionId);
    expect(tx?.transaction).toMatchObject({ source: 'billing', actor: ActorRef.user('alice') });

    // A retried create (as the fulfilment worker may send) returns the same invoice and writes nothing.
    const before = await changeCount();
    const again = await callAs<Invoice>('alice', `${billing.url}/invoices`, {
      body: { orderId: 101, amountCents: 2400 },
    });
    expect(again.body.id).toBe(alice.id);
    expect(await changeCount()).toBe(before);
  });

  it('records a payment, the status change and the invoice.paid action in one audit transaction', async () => {
    const paid = await callAs<Invoice>('alice', `${billing.url}/invoices/${alice.id}/pay`, {
      body: { cardToken: 'tok_visa_4242' },
      headers: { 'x-request-id': 'pay-alice-1', 'x-correlation-id': 'checkout-alice' },
    });
    expect(paid.status).toBe(200);
    expect(paid.body.status).toBe('paid');

    const [update] = (await tl.history('billing.invoices', alice.id)).entries;
    expect(update).toMatchObject({
      op: 'update',
      changedFields: ['status'],
      correlationId: 'checkout-alice',
    });
    const bundle = await tl.auditTransaction(update!.transactionId);
    expect(bundle?.transaction).toMatchObject({
      actor: ActorRef.user('alice'),
      requestId: 'pay-alice-1',
      correlationId: 'checkout-alice',
      source: 'billing',
    });
    expect(bundle?.action).toMatchObject({ name: 'invoice.paid', actor: ActorRef.user('alice') });
    const payment = bundle?.changes.find((c) => c.change.tableName === 'payments')?.change;
    expect(payment?.dataAfter).toMatchObject({ invoice_id: alice.id, amount_cents: 2400 });
    expect(payment?.dataAfter).not.toHaveProperty('card_token'); // excluded from capture
  });

  it('writes nothing for a refused request', async () => {
    const before = await changeCount();
    const foreign = await callAs('bob', `${billing.url}/invoices/${alice.id}/pay`, {
      body: { cardToken: 't' },
    });
    expect(foreign.status).toBe(404); // not bob's invoice
    const anonymous = await fetch(`${billing.url}/invoices`, { method: 'POST' });
    expect(anonymous.status).toBe(401);
    expect(await changeCount()).toBe(before);
  });

  it('captures every billing write, each under the right actor', async () => {
    const { entries } = await tl.timeline({ tableSchema: 'billing' }, { pageSize: 1000 });
    expect(
      entries.map((c) => `${c.op} ${c.tableName} ${c.actor?.type}:${(c.actor as { id: string }).id}`).sort(),
    ).toEqual([
      'insert invoices user:alice',
      'insert invoices user:bob',
      'insert payments user:alice',
      'update invoices user:alice',
    ]);
    const bobs = await tl.actorHistory(ActorRef.user('bob'));
    expect(bobs.entries.map((c) => c.tablePk)).toEqual([{ id: bob.id }]);
  });
});
