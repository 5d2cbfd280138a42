import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ActorRef,
  createThreadline,
  LocalDirectoryStorage,
  runWithAuditContext,
  type Threadline,
} from '@threadline/core';
import { createTestDatabase, postgresEnabled, redisEnabled, type TestDatabase } from '@threadline/test-utils';
import { Queue, QueueEvents } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ExportQueueData, exportQueueRunner, exportWorker } from '../src/index.js';
import { connection, PREFIX } from './harness.js';

async function collect(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

describe.skipIf(!postgresEnabled() || !redisEnabled())(
  'exportWorker: background exports through BullMQ (real Redis)',
  () => {
    let server: TestDatabase;
    let tl: Threadline;
    let queue: Queue<ExportQueueData>;
    let events: QueueEvents;
    let worker: ReturnType<typeof exportWorker>;
    let dir: string;
    const queueName = `tl-export-${randomBytes(4).toString('hex')}`;
    const owner = ActorRef.user('analyst-3');

    beforeAll(async () => {
      server = await createTestDatabase('tl_bullmq_export');
      tl = createThreadline({ db: server.pool });
      await tl.install();
      await server.pool.query('create table orders (id int primary key, total numeric)');
      await tl.installTriggers({ tables: ['orders'] });
      await runWithAuditContext({ actor: ActorRef.user('clerk') }, async () => {
        for (let i = 1; i <= 25; i++) await tl.query('insert into orders values ($1, $2)', [i, `${i}.50`]);
      });
      dir = mkdtempSync(join(tmpdir(), 'tl-bullmq-export-'));
      queue = new Queue<ExportQueueData>(queueName, { connection, prefix: PREFIX });
      events = new QueueEvents(queueName, { connection, prefix: PREFIX });
      worker = exportWorker({ threadline: tl, connection, queueName, workerOptions: { prefix: PREFIX } });
      await Promise.all([queue.waitUntilReady(), events.waitUntilReady(), worker.waitUntilReady()]);
      tl.export.configure({ storage: new LocalDirectoryStorage(dir), runner: exportQueueRunner(queue) });
    });

    afterAll(async () => {
      await worker?.close();
      await events?.close();
      await queue?.obliterate({ force: true });
      await queue?.close();
      await server?.drop();
    });

    it('enqueue puts the job on the queue; the worker writes the file; the requester downloads it', async () => {
      const job = await tl.export.enqueue({ table: 'orders' }, { format: 'ndjson', requestedBy: owner });
      const queued = await queue.getJob(`export-${job.id}`);
      expect(queued?.data).toEqual({ exportJobId: job.id });
      const result = await queued!.waitUntilFinished(events);
      expect(result).toEqual({
        exportJobId: job.id,
        status: 'completed',
        rowCount: 25,
        bytes: expect.any(Number),
      });
      const done = (await tl.export.job(job.id))!;
      expect([done.status, done.rowCount, done.bytes]).toEqual(['completed', 25, result.bytes]);
      expect(readdirSync(dir)).toEqual([`${job.id}.ndjson`]);
      const { stream } = await tl.export.download(job.id, { actor: owner });
      const lines = (await collect(stream)).trim().split('\n');
      expect(lines.map((l) => (JSON.parse(l) as { table_pk: { id: number } }).table_pk.id)).toEqual(
        Array.from({ length: 25 }, (_, i) => 25 - i),
      );
    });

    it('an export that cannot run fails its queue job with the export error (code and message)', async () => {
      // A row whose stored filters no longer validate (written by hand, as a hostile or stale row would be).
      const { rows } = await server.pool.query<{ id: string }>(
        `insert into threadline.export_jobs (filters, format, requested_by, expires_at)
       values ('{"from": "yesterday"}', 'csv', '{"type":"user","id":"analyst-3"}', now() + interval '1 day') returning id::text`,
      );
      const id = rows[0]!.id;
      const queued = await queue.add('threadline.export', { exportJobId: id });
      await expect(queued.waitUntilFinished(events)).rejects.toThrow(
        `export job ${id} failed: QUERY_INVALID: timeline: from must be a Date or an ISO 8601 timestamp like 2026-11-28T14:00:00Z, got "yesterday"`,
      );
      expect((await tl.export.job(id))?.status).toBe('failed');
      const bad = await queue.add('threadline.export', { exportJobId: 'nope' });
      await expect(bad.waitUntilFinished(events)).rejects.toThrow(
        'export.runJob: job id must be a UUID, got "nope"',
      );
    });
  },
);
