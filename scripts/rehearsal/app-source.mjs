// The programs the release rehearsal runs inside a fresh project that installed the published
// packages: one app body in ESM and CommonJS form, and one TypeScript file type-checked under
// several module resolutions. They use only what a user would write after reading the README.

const ESM_HEAD = `import { ActorRef, createThreadline } from '@threadline/core';
import { auditJobData, withAuditContext } from '@threadline/bullmq';
import { auditContext } from '@threadline/express';
import { attachThreadline } from '@threadline/knex';
import { Queue, QueueEvents, Worker } from 'bullmq';
import express from 'express';
import createKnex from 'knex';
import pg from 'pg';
`;

const CJS_HEAD = `const { ActorRef, createThreadline } = require('@threadline/core');
const { auditJobData, withAuditContext } = require('@threadline/bullmq');
const { auditContext } = require('@threadline/express');
const { attachThreadline } = require('@threadline/knex');
const { Queue, QueueEvents, Worker } = require('bullmq');
const express = require('express');
const createKnex = require('knex');
const pg = require('pg');
`;

// One request with an actor (an order placed, then shipped by a job it enqueued), one without
// (its action is the anonymous actor's); then the audit rows are compared with what happened.
const BODY = (format) => `
const FORMAT = '${format}';
const table = 'orders_' + FORMAT;
const redis = new URL(process.env.REDIS_URL);
const connection = { host: redis.hostname, port: Number(redis.port || 6379) };
const queueName = process.env.QUEUE;

// jsonb orders an object's keys its own way: compare with keys sorted.
function canonical(value) {
  if (Array.isArray(value)) return '[' + value.map(canonical).join(',') + ']';
  if (value && typeof value === 'object') {
    return '{' + Object.keys(value).sort().map((k) => JSON.stringify(k) + ':' + canonical(value[k])).join(',') + '}';
  }
  return JSON.stringify(value);
}

function same(label, actual, expected) {
  const a = canonical(actual);
  const e = canonical(expected);
  if (a !== e) throw new Error(label + ': expected ' + e + ', got ' + a);
}

async function main() {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
  const tl = createThreadline({ db: pool });
  await tl.install();
  await pool.query('create table ' + table + ' (id serial primary key, item text not null, status text not null)');
  await tl.installTriggers({ tables: [table] });
  const knex = attachThreadline(createKnex({ client: 'pg', connection: process.env.DATABASE_URL, pool: { min: 0, max: 2 } }), { threadline: tl });

  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  await events.waitUntilReady();
  const worker = new Worker(
    queueName,
    withAuditContext(async (job) => {
      await knex(table).where({ id: job.data.orderId }).update({ status: 'shipped' });
    }),
    { connection },
  );

  const app = express();
  app.use(express.json());
  app.use(auditContext({ actor: (req) => (req.get('x-user') ? ActorRef.user(req.get('x-user')) : undefined) }));
  app.post('/orders', async (req, res, next) => {
    try {
      const id = await knex.transaction(async (trx) => {
        const [row] = await trx(table).insert({ item: req.body.item, status: 'new' }).returning('id');
        await tl.recordAction('order.placed');
        return row.id;
      });
      const job = req.get('x-user') ? await queue.add('ship', auditJobData({ orderId: id })) : undefined;
      res.json({ id, jobId: job ? job.id : null });
    } catch (error) {
      next(error);
    }
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const base = 'http://127.0.0.1:' + server.address().port;
  const post = async (headers, item) => {
    const res = await fetch(base + '/orders', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify({ item }),
    });
    if (res.status !== 200) throw new Error('POST /orders answered ' + res.status + ': ' + (await res.text()));
    return res.json();
  };

  try {
    const placed = await post({ 'x-user': '7', 'x-request-id': 'req-' + FORMAT + '-1' }, 'book');
    const job = await queue.getJob(placed.jobId);
    await job.waitUntilFinished(events, 30000);
    const anonymous = await post({ 'x-request-id': 'req-' + FORMAT + '-2' }, 'pen');

    const { rows: changes } = await pool.query(
      'select c.op, c.table_pk, t.actor_ref, t.request_id, t.job_id, t.causation_id, t.source from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1 order by c.id',
      [table],
    );
    same('changes', changes, [
      { op: 'insert', table_pk: { id: placed.id }, actor_ref: { type: 'user', id: '7' }, request_id: 'req-' + FORMAT + '-1', job_id: null, causation_id: null, source: 'express' },
      { op: 'update', table_pk: { id: placed.id }, actor_ref: { type: 'user', id: '7' }, request_id: null, job_id: String(placed.jobId), causation_id: 'req-' + FORMAT + '-1', source: 'bullmq' },
      { op: 'insert', table_pk: { id: anonymous.id }, actor_ref: null, request_id: 'req-' + FORMAT + '-2', job_id: null, causation_id: null, source: 'express' },
    ]);
    const { rows: actions } = await pool.query(
      "select a.name, a.actor_ref, a.request_id from threadline.audit_actions a where a.request_id like $1 order by a.inserted_at, a.request_id",
      ['req-' + FORMAT + '-%'],
    );
    same('actions', actions, [
      { name: 'order.placed', actor_ref: { type: 'user', id: '7' }, request_id: 'req-' + FORMAT + '-1' },
      { name: 'order.placed', actor_ref: { type: 'anonymous' }, request_id: 'req-' + FORMAT + '-2' },
    ]);
    console.log('REHEARSAL ' + FORMAT + ' OK');
  } finally {
    server.close();
    await worker.close();
    await queue.obliterate({ force: true });
    await queue.close();
    await events.close();
    await knex.destroy();
    await pool.end();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
`;

/** The ESM (`app.mjs`) or CommonJS (`app.cjs`) program. */
export function appSource(format) {
  return (format === 'esm' ? ESM_HEAD : CJS_HEAD) + BODY(format);
}

/**
 * Type-checked under nodenext, bundler and node10 with skipLibCheck off: every package's types
 * must resolve, and the callbacks' parameters must be the frameworks' types, never \`any\`.
 */
export const TYPES_CHECK = `import { ActorRef, createThreadline, setAuditActor } from '@threadline/core';
import { runWithFreshAuditContext } from '@threadline/core/adapter';
import { auditJobData, withAuditContext } from '@threadline/bullmq';
import { auditContext } from '@threadline/express';
import { auditContext as honoAuditContext } from '@threadline/hono';
import { attachThreadline, threadlineSession } from '@threadline/knex';
import { ThreadlineModule, WithAuditContext } from '@threadline/nestjs';
import { attachThreadline as attachTypeorm } from '@threadline/typeorm';
import type { Job } from 'bullmq';
import type { Request } from 'express';
import type { Context } from 'hono';
import createKnex from 'knex';
import pg from 'pg';
import { DataSource } from 'typeorm';

type IsAny<T> = 0 extends 1 & T ? true : false;

const tl = createThreadline({ db: new pg.Pool({ connectionString: process.env.DATABASE_URL }) });
export const knex = attachThreadline(createKnex({ client: 'pg' }), { threadline: tl });
export const source = new DataSource({ type: 'postgres', url: process.env.DATABASE_URL });
export const attached: DataSource = attachTypeorm(source, { threadline: tl });

export const expressMiddleware = auditContext({
  actor: (req) => {
    const notAny: IsAny<typeof req> = false;
    const typed: Request = req;
    return typed.get('x-user') ? ActorRef.user(String(typed.get('x-user'))) : undefined;
  },
});
export const honoMiddleware = honoAuditContext({
  actor: (c) => {
    const notAny: IsAny<typeof c> = false;
    const typed: Context = c;
    return typed.req.header('x-user') ? ActorRef.user(typed.req.header('x-user')!) : undefined;
  },
});
export const processor = withAuditContext<{ orderId: number }>(async (job) => {
  const notAny: IsAny<typeof job> = false;
  const typed: Job<{ orderId: number }> = job;
  return typed.data.orderId;
});
export const data = auditJobData({ orderId: 1 });
export const nestModule = ThreadlineModule.forRoot({ threadline: tl });
export const decorator = WithAuditContext;
export async function late(): Promise<void> {
  await knex.transaction(async (trx) => {
    await tl.recordAction('x', { session: threadlineSession(trx) });
  });
  runWithFreshAuditContext({ source: 'check' }, () => setAuditActor(ActorRef.user(1)));
}
`;
