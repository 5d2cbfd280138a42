import { serve } from '@hono/node-server';
import { ActorRef } from '@threadline/core';
import { auditContext } from '@threadline/hono';
import { Hono } from 'hono';
import { migrate, tl } from './db.js';

interface Ticket {
  id: number;
  status: string;
}
type Env = { Variables: { userId: string } };

const app = new Hono<Env>();
// Stand-in for real authentication: the caller's user id arrives in the x-user-id header.
app.use(async (c, next) => {
  const userId = c.req.header('x-user-id');
  if (!userId) return c.json({ error: 'send an x-user-id header' }, 401);
  c.set('userId', userId);
  await next();
});
// One audit context per request: the actor, x-request-id and x-correlation-id (or generated ids).
app.use(auditContext<Env>({ source: 'support', actor: (c) => ActorRef.user(c.var.userId) }));

app.post('/tickets', async (c) => {
  const { subject, body, orderId } = await c.req.json();
  if (typeof subject !== 'string' || typeof body !== 'string') {
    return c.json({ error: 'send { subject, body, orderId? }' }, 400);
  }
  // Two inserts in one transaction; tl.transaction binds the request's audit context first.
  const { result: ticket } = await tl.transaction(async (tx) => {
    const { rows } = await tx.query<Ticket>(
      'insert into support.tickets (customer_id, order_id, subject) values ($1, $2, $3) returning id, status',
      [c.var.userId, orderId ?? null, subject],
    );
    await tx.query('insert into support.messages (ticket_id, author_id, body) values ($1, $2, $3)', [
      rows[0]!.id,
      c.var.userId,
      body,
    ]);
    return rows[0]!;
  });
  return c.json(ticket, 201);
});

app.post('/tickets/:id/replies', async (c) => {
  const { body } = await c.req.json();
  if (typeof body !== 'string') return c.json({ error: 'send { body }' }, 400);
  // A single statement: tl.query runs it in a short transaction that carries the audit context.
  const { rows } = await tl.query(
    `insert into support.messages (ticket_id, author_id, body)
     select id, $2, $3 from support.tickets where id = $1 and status = 'open' returning id`,
    [Number(c.req.param('id')), c.var.userId, body],
  );
  return rows[0] ? c.json(rows[0], 201) : c.json({ error: 'no such open ticket' }, 404);
});

app.post('/tickets/:id/close', async (c) => {
  const { rows } = await tl.query<Ticket>(
    `update support.tickets set status = 'closed' where id = $1 and status = 'open' returning id, status`,
    [Number(c.req.param('id'))],
  );
  return rows[0] ? c.json(rows[0]) : c.json({ error: 'no such open ticket' }, 404);
});

await migrate();
serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3003) }, ({ port }) =>
  console.log(`support service listening on http://127.0.0.1:${port}`),
);
