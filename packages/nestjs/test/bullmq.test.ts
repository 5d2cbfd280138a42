import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { BullModule, getQueueToken, OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { withAuditContext } from '@threadline/bullmq';
import { type ConformanceDb, openConformanceDb } from '@threadline/conformance';
import { ActorRef, runWithAuditContext, type Threadline } from '@threadline/core';
import {
  type AuditContext,
  getAuditContext,
  JOB_CONTEXT_KEY,
  jobAuditContext,
  jobContextData,
} from '@threadline/core/adapter';
import { postgresEnabled, redisAvailable, redisConnection } from '@threadline/test-utils';
import type { Job, Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InjectThreadline, ThreadlineModule, WithAuditContext } from '../src/index.js';

const QUEUE = 'reports';
const TABLE = 'BULLMQ_TABLE';
interface ReportJob {
  id: number;
  [JOB_CONTEXT_KEY]?: unknown;
}

/** The documented recipe (docs/adapters/nestjs.md): core's job context, the one @threadline/bullmq uses. */
const jobContext = (job: Job<ReportJob>) =>
  jobAuditContext({
    queue: job.queueName,
    jobId: job.id,
    attempt: job.attemptsMade + 1,
    enqueuedAt: job.timestamp,
    data: job.data,
    source: 'bullmq',
  });

/** The context each job ran in, by job id: the recipe's (nest) and @threadline/bullmq's wrapper. */
const seen = { nest: new Map<string, AuditContext>(), wrapper: new Map<string, AuditContext>() };

let completed: () => void;
const allCompleted = new Promise<void>((resolve) => {
  let left = 2;
  completed = () => --left === 0 && resolve();
});

/** A real @nestjs/bullmq consumer: the process method and a worker event handler are both wrapped. */
@Processor(QUEUE)
class ReportsConsumer extends WorkerHost {
  constructor(
    @InjectThreadline() private readonly tl: Threadline,
    @Inject(TABLE) private readonly table: string,
  ) {
    super();
  }

  @WithAuditContext({ context: jobContext })
  async process(job: Job<ReportJob>) {
    seen.nest.set(job.id!, { ...getAuditContext() });
    // @threadline/bullmq's wrapper on the same job at the same moment, for the comparison below.
    seen.wrapper.set(job.id!, await withAuditContext(async () => ({ ...getAuditContext() }))(job));
    await this.tl.transaction((tx) => tx.query(`insert into ${this.table} (id) values ($1)`, [job.data.id]));
    return job.data.id;
  }

  @WithAuditContext({
    actor: () => ActorRef.job(QUEUE),
    context: (job: Job<ReportJob>) => ({ jobId: job.id }),
  })
  @OnWorkerEvent('completed')
  async onCompleted(job: Job<ReportJob>) {
    await this.tl.query(`insert into ${this.table} (id, note) values ($1, 'completed')`, [
      job.data.id + 1000,
    ]);
    completed();
  }
}

const redisUp = await redisAvailable();

describe.runIf(postgresEnabled() && redisUp)('@WithAuditContext() on a @nestjs/bullmq consumer', () => {
  let db: ConformanceDb;
  let table: string;
  let app: Awaited<ReturnType<typeof NestFactory.createApplicationContext>>;
  let queue: Queue;
  beforeAll(async () => {
    db = await openConformanceDb(2);
    table = await db.table();
    @Module({
      imports: [
        ThreadlineModule.forRoot({ threadline: db.tl }),
        BullModule.forRoot({
          connection: redisConnection(),
          prefix: `tlnest${randomBytes(4).toString('hex')}`,
        }),
        BullModule.registerQueue({ name: QUEUE }),
      ],
      providers: [ReportsConsumer, { provide: TABLE, useValue: table }],
    })
    class WorkerModule {}
    app = await NestFactory.createApplicationContext(WorkerModule, { logger: false, abortOnError: false });
    await app.init();
    queue = app.get<Queue>(getQueueToken(QUEUE));
  });
  afterAll(async () => {
    await queue?.obliterate({ force: true });
    await app?.close();
    await db?.close();
  });

  it('keeps the handler metadata (the worker event handler still fires) and attributes both', async () => {
    // Both are enqueued inside a request's context; only job 1 carries it in its data.
    const [a, b] = await runWithAuditContext(
      { actor: ActorRef.user('ann'), requestId: 'req-1', correlationId: 'corr-1' },
      () =>
        Promise.all([
          queue.add('build', { id: 1, [JOB_CONTEXT_KEY]: jobContextData() }),
          queue.add('build', { id: 2 }),
        ]),
    );
    await allCompleted;
    const rows = await db.audit(table);
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(byId.get(1)).toMatchObject({
      actor: 'ann',
      actorType: 'user',
      jobId: a!.id,
      correlationId: 'corr-1',
      causationId: 'req-1',
      requestId: null,
      source: 'nestjs',
    });
    // Nothing leaks from where it was enqueued or where the worker started.
    expect(byId.get(2)).toMatchObject({ actor: QUEUE, actorType: 'job', jobId: b!.id, requestId: null });
    expect(byId.get(2)!.correlationId).not.toBe('corr-1');
    expect(byId.get(1001)).toMatchObject({ actor: QUEUE, actorType: 'job', jobId: a!.id });
    expect(byId.get(1002)).toMatchObject({ actor: QUEUE, actorType: 'job', jobId: b!.id });
    expect(byId.get(1)!.meta).toEqual({ handler: 'ReportsConsumer.process', queue: QUEUE, attempt: 1 });
    expect(byId.get(2)!.correlationId).toBe(`bullmq:${QUEUE}:${b!.id}:${b!.timestamp}`);
    expect(byId.get(1001)!.meta).toEqual({ handler: 'ReportsConsumer.onCompleted' });
  });

  it('gives the recipe the same job context as @threadline/bullmq (only source and meta.handler differ)', () => {
    expect(seen.nest.size).toBe(2);
    for (const [id, nest] of seen.nest) {
      const wrapper = seen.wrapper.get(id)!;
      expect(wrapper.source).toBe('bullmq');
      expect(nest.source).toBe('nestjs');
      expect(nest.meta).toEqual({ handler: 'ReportsConsumer.process', ...wrapper.meta });
      expect({ ...nest, source: undefined, meta: undefined }).toEqual({
        ...wrapper,
        source: undefined,
        meta: undefined,
      });
    }
    const actors = [...seen.wrapper.values()].map((ctx) => ctx.actor);
    expect(actors).toContainEqual(ActorRef.user('ann'));
    expect(actors).toContainEqual(ActorRef.job(QUEUE));
  });
});
