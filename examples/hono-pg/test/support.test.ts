import { fileURLToPath } from 'node:url';
import { ActorRef, createThreadline, type Threadline } from '@threadline/core';
import { callAs, type Service, startService } from '@threadline/example-shared/testing';
import { createTestDatabase, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const cwd = fileURLToPath(new URL('..', import.meta.url));

describe.runIf(postgresEnabled())('support service (Hono + node-postgres)', () => {
  let db: TestDatabase;
  let tl: Threadline;
  let support: Service;

  beforeAll(async () => {
    db = await createTestDatabase('tl_example_support');
    tl = createThreadline({ db: db.pool });
    support = await startService({
      name: 'support service',
      cwd,
      args: ['--import', 'tsx', 'src/server.ts'],
      env: { DATABASE_URL: db.url, PORT: '0' },
      ready: /listening on (http:\S+)/,
    });
  });

  afterAll(async () => {
    await support?.stop();
    await db?.drop();
  });

  let ticketId: number;

  it('a customer opens a ticket: the ticket and its first message in one attributed transaction', async () => {
    const opened = await callAs<{ id: number }>('alice', `${support.url}/tickets`, {
      body: { subject: 'Where is my mug?', body: 'Ordered on Monday.', orderId: 101 },
      headers: { 'x-request-id': 'req-ticket-1' },
    });
    expect(opened.status).toBe(201);
    ticketId = opened.body.id;

    const [insert] = (await tl.history('support.tickets', ticketId)).entries;
    expect(insert).toMatchObject({
      op: 'insert',
      actor: ActorRef.user('alice'),
      correlationId: 'req-ticket-1',
    });
    const bundle = await tl.auditTransaction(insert!.transactionId);
    expect(bundle?.transaction).toMatchObject({
      actor: ActorRef.user('alice'),
      requestId: 'req-ticket-1',
      source: 'support',
    });
    expect(bundle?.changes.map((c) => `${c.change.op} ${c.change.tableName}`).sort()).toEqual([
      'insert messages',
      'insert tickets',
    ]);
  });

  it('an agent replies and closes it: single statements through tl.query, attributed to the agent', async () => {
    const reply = await callAs('agent-7', `${support.url}/tickets/${ticketId}/replies`, {
      body: { body: 'It ships today.' },
    });
    expect(reply.status).toBe(201);
    const closed = await callAs('agent-7', `${support.url}/tickets/${ticketId}/close`, { method: 'POST' });
    expect(closed.status).toBe(200);

    const history = await tl.history('support.tickets', ticketId);
    expect(history.entries.map((c) => [c.op, c.actor])).toEqual([
      ['update', ActorRef.user('agent-7')],
      ['insert', ActorRef.user('alice')],
    ]);
    const agent = await tl.actorHistory(ActorRef.user('agent-7'));
    expect(agent.entries.map((c) => `${c.op} ${c.tableName}`)).toEqual(['update tickets', 'insert messages']);
    for (const change of agent.entries) {
      const tx = await tl.auditTransaction(change.transactionId);
      expect(tx?.transaction).toMatchObject({ source: 'support', actor: ActorRef.user('agent-7') });
      expect(tx?.transaction.requestId).toBe(tx?.transaction.correlationId); // no header: generated
    }
  });

  it('captures every write, each under the right actor, and nothing for refused requests', async () => {
    const refused = await fetch(`${support.url}/tickets`, { method: 'POST', body: '{}' });
    expect(refused.status).toBe(401);
    const closedAgain = await callAs('agent-7', `${support.url}/tickets/${ticketId}/close`, {
      method: 'POST',
    });
    expect(closedAgain.status).toBe(404);

    const rows = await db.pool.query<{ author_id: string }>('select author_id from support.messages');
    const { entries } = await tl.timeline({ tableSchema: 'support' });
    const inserts = entries.filter((c) => c.op === 'insert' && c.tableName === 'messages');
    expect(inserts.map((c) => (c.actor as { id: string }).id).sort()).toEqual(
      rows.rows.map((r) => r.author_id).sort(),
    );
    expect(entries).toHaveLength(4); // ticket + message, reply, close
  });
});
