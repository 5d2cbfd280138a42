import 'reflect-metadata';
import { Inject, Injectable, Module, SetMetadata } from '@nestjs/common';
// Value imports: Nest injects these by the classes that design:paramtypes names.
import { DiscoveryModule, DiscoveryService, MetadataScanner, NestFactory, Reflector } from '@nestjs/core';
import { Cron, ScheduleModule, SchedulerRegistry } from '@nestjs/schedule';
import { type ConformanceDb, openConformanceDb } from '@threadline/conformance';
import {
  ActorRef,
  getAuditContext,
  isThreadlineError,
  runWithAuditContext,
  type Threadline,
} from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InjectThreadline, ThreadlineModule, WithAuditContext } from '../src/index.js';

const EVENT = 'test:on-event';
/** A custom handler decorator, as queue/event libraries define them. */
const OnEvent = (name: string) => SetMetadata(EVENT, name);

class Deferred {
  resolve!: () => void;
  readonly promise = new Promise<void>((r) => {
    this.resolve = r;
  });
}

describe('@WithAuditContext() without a database', () => {
  class Handlers {
    calls: unknown[] = [];

    @WithAuditContext()
    @OnEvent('above')
    syncAbove(a: number, _b: string): number {
      this.calls.push(getAuditContext());
      return a * 2;
    }

    @OnEvent('below')
    @WithAuditContext({
      actor: (name: string) =>
        name === 'boom' ? Promise.reject(new Error('no such user')) : ActorRef.user(name),
      context: (_name: string, jobId: string) => ({ jobId, correlationId: 'corr-1', meta: { queue: 'q' } }),
    })
    async withActor(name: string, jobId: string): Promise<string> {
      this.calls.push(getAuditContext());
      return `${name}:${jobId}`;
    }

    @WithAuditContext()
    static tick() {
      return getAuditContext();
    }
  }

  it('keeps name, length, decorator metadata (both orders) and design metadata', () => {
    const proto = Handlers.prototype;
    expect(proto.syncAbove.name).toBe('syncAbove');
    expect(proto.syncAbove.length).toBe(2);
    expect(proto.withActor.length).toBe(2);
    expect(Reflect.getMetadata(EVENT, proto.syncAbove)).toBe('above');
    expect(Reflect.getMetadata(EVENT, proto.withActor)).toBe('below');
    expect(Reflect.getMetadata('design:paramtypes', proto, 'syncAbove')).toEqual([Number, String]);
    expect(Reflect.getMetadata('design:returntype', proto, 'withActor')).toBe(Promise);
  });

  it('runs each call in a fresh context: system actor, new correlation id, source nestjs, meta.handler', () => {
    const h = new Handlers();
    const result = runWithAuditContext({ actor: ActorRef.user('outer'), requestId: 'req-outer' }, () =>
      h.syncAbove(21, 'x'),
    );
    expect(result).toBe(42); // still synchronous without an actor callback
    h.syncAbove(1, 'y');
    const [first, second] = h.calls as Record<string, unknown>[];
    expect(first).toMatchObject({
      actor: { type: 'system', id: 'Handlers.syncAbove' },
      source: 'nestjs',
      meta: { handler: 'Handlers.syncAbove' },
    });
    expect(first).not.toHaveProperty('requestId');
    expect(first!.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(second!.correlationId).not.toBe(first!.correlationId);
    expect(Handlers.tick()).toMatchObject({ actor: { type: 'system', id: 'Handlers.tick' } });
    expect(getAuditContext()).toBeUndefined();
  });

  it('takes the actor and extra context from the arguments', async () => {
    const h = new Handlers();
    await expect(h.withActor('ann', 'job-9')).resolves.toBe('ann:job-9');
    expect(h.calls[0]).toMatchObject({
      actor: { type: 'user', id: 'ann' },
      jobId: 'job-9',
      correlationId: 'corr-1',
      meta: { handler: 'Handlers.withActor', queue: 'q' },
    });
  });

  it('fails the call, without running the method, when the actor callback throws', async () => {
    const h = new Handlers();
    const error = await h.withActor('boom', 'job-1').catch((e: unknown) => e);
    expect(isThreadlineError(error, 'CALLBACK_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/Handlers\.withActor.*no such user/);
    expect(h.calls).toHaveLength(0);
  });

  it('rejects a bad source, and anything that is not a method', () => {
    expect(() => WithAuditContext({ source: '' })).toThrow(
      expect.objectContaining({ code: 'INVALID_CONTEXT' }),
    );
    const accessor: TypedPropertyDescriptor<() => unknown> = { get: () => () => 1 };
    expect(() => WithAuditContext()(Handlers.prototype, 'x', accessor)).toThrow(/decorate a method/);
  });

  it('checks the actor callback against the method signature (types)', () => {
    class Typed {
      @WithAuditContext({ actor: (id: number) => ActorRef.user(id) })
      ok(id: number, _extra: string) {
        return id;
      }

      // @ts-expect-error the callback takes a number, the method's first argument is a string
      @WithAuditContext({ actor: (id: number) => ActorRef.user(id) })
      wrong(id: string) {
        return id;
      }

      // @ts-expect-error the context callback takes an object, the method's first argument is a number
      @WithAuditContext({ context: (job: { id: string }) => ({ jobId: job.id }) })
      wrongContext(id: number) {
        return id;
      }
    }
    expect(new Typed().ok).toBeTypeOf('function');
  });
});

// A cron job and a DiscoveryService-based explorer over the custom decorator, both reading the
// metadata back after @WithAuditContext() wrapped the methods.
const TABLE = 'DECORATOR_TABLE';
const done = { nightly: new Deferred(), hourly: new Deferred(), event: new Deferred() };

@Injectable()
class Reports {
  constructor(
    @InjectThreadline() private readonly tl: Threadline,
    @Inject(TABLE) private readonly table: string,
  ) {}

  private insert(id: number) {
    return this.tl.transaction((tx) => tx.query(`insert into ${this.table} (id) values ($1)`, [id]));
  }

  @WithAuditContext()
  @Cron('0 0 1 1 *', { name: 'nightly' })
  async nightly() {
    await this.insert(1);
    done.nightly.resolve();
  }

  @Cron('0 0 1 1 *', { name: 'hourly' })
  @WithAuditContext({ actor: () => ActorRef.serviceAccount('scheduler') })
  async hourly() {
    await this.insert(2);
    done.hourly.resolve();
  }

  @WithAuditContext({ actor: (payload: { by: string }) => ActorRef.user(payload.by) })
  @OnEvent('report.requested')
  async onRequested(payload: { by: string; id: number }) {
    await this.insert(payload.id);
    done.event.resolve();
  }
}

/** Finds every provider method carrying the custom decorator, as event/queue libraries do. */
@Injectable()
class EventExplorer {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  handlers(event: string): ((payload: unknown) => Promise<void>)[] {
    return this.discovery.getProviders().flatMap(({ instance }) => {
      if (!instance || typeof instance !== 'object') return [];
      const proto = Object.getPrototypeOf(instance) as Record<string, (p: unknown) => Promise<void>>;
      return this.scanner
        .getAllMethodNames(proto)
        .filter((name) => this.reflector.get(EVENT, proto[name]!) === event)
        .map((name) => proto[name]!.bind(instance));
    });
  }
}

describe.runIf(postgresEnabled())('@WithAuditContext() in a Nest app', () => {
  let db: ConformanceDb;
  let table: string;
  let app: Awaited<ReturnType<typeof NestFactory.createApplicationContext>>;
  beforeAll(async () => {
    db = await openConformanceDb(2);
    table = await db.table();
    @Module({
      imports: [ThreadlineModule.forRoot({ threadline: db.tl }), ScheduleModule.forRoot(), DiscoveryModule],
      providers: [Reports, EventExplorer, { provide: TABLE, useValue: table }],
    })
    class WorkerModule {}
    app = await NestFactory.createApplicationContext(WorkerModule, { logger: false, abortOnError: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await db?.close();
  });
  const rows = async (id: number) => (await db.audit(table)).filter((r) => r.id === id);

  it('@nestjs/schedule still finds both cron methods, and their writes are attributed', async () => {
    const registry = app.get(SchedulerRegistry);
    expect([...registry.getCronJobs().keys()].sort()).toEqual(['hourly', 'nightly']);
    await registry.getCronJob('nightly').fireOnTick();
    await registry.getCronJob('hourly').fireOnTick();
    await Promise.all([done.nightly.promise, done.hourly.promise]);
    expect(await rows(1)).toMatchObject([
      { actor: 'Reports.nightly', actorType: 'system', source: 'nestjs' },
    ]);
    expect(await rows(2)).toMatchObject([{ actor: 'scheduler', actorType: 'service_account' }]);
    expect((await rows(1))[0]!.meta).toEqual({ handler: 'Reports.nightly' });
  });

  it('a DiscoveryService explorer reads the custom metadata and the handler runs attributed', async () => {
    const handlers = app.get(EventExplorer).handlers('report.requested');
    expect(handlers).toHaveLength(1);
    await handlers[0]!({ by: 'ops-7', id: 3 });
    await done.event.promise;
    expect(await rows(3)).toMatchObject([{ actor: 'ops-7', actorType: 'user', source: 'nestjs' }]);
  });
});
