import 'reflect-metadata';
import {
  type ArgumentsHost,
  type CanActivate,
  Catch,
  type ExceptionFilter,
  type ExecutionContext,
  Injectable,
  Module,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD } from '@nestjs/core';
import { type ConformanceDb, openConformanceDb } from '@threadline/conformance';
import {
  ActorRef,
  createThreadline,
  getAuditContext,
  isThreadlineError,
  runWithAuditContext,
  setAuditActor,
  Threadline,
} from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import type { Request, Response } from 'express';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { THREADLINE, ThreadlineModule } from '../src/index.js';
import { itemsModule, listen } from './app.js';

const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

/** An app-wide auth guard (as Passport's AuthGuard would be) that names the actor from a bearer token. */
@Injectable()
class BearerGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<Request>();
    const token = req.get('authorization')?.replace(/^Bearer /, '');
    if (token) setAuditActor(ActorRef.user(token));
    return true;
  }
}

/** Records what reached the exception layer, then answers 500 as Nest would. */
const seen: unknown[] = [];
@Catch()
class RecordingFilter implements ExceptionFilter {
  catch(error: unknown, host: ArgumentsHost) {
    seen.push(error);
    host.switchToHttp().getResponse<Response>().status(500).json({ error: 'failed' });
  }
}

/** A config provider in its own module, as @nestjs/config would be. */
@Injectable()
class AppConfig {
  databaseUrl = '';
  readonly actorHeader = 'x-user';
}
@Module({ providers: [AppConfig], exports: [AppConfig] })
class ConfigModule {}

describe.runIf(postgresEnabled())('ThreadlineModule', () => {
  let db: ConformanceDb;
  let table: string;
  const pools: pg.Pool[] = [];
  beforeAll(async () => {
    db = await openConformanceDb(2);
    table = await db.table();
  });
  afterAll(async () => {
    await Promise.all(pools.map((p) => p.end()));
    await db?.close();
  });
  const rows = async (id: number) => (await db.audit(table)).filter((r) => r.id === id);

  it('lets an app-wide guard set the actor after the middleware opened the context', async () => {
    @Module({ imports: [itemsModule(table, ThreadlineModule.forRoot({ threadline: db.tl }))] })
    class AppModule {}
    @Module({ imports: [AppModule], providers: [{ provide: APP_GUARD, useClass: BearerGuard }] })
    class Root {}
    const app = await listen(Root);
    try {
      expect((await post(app.url, { id: 1 }, { authorization: 'Bearer alice' })).status).toBe(200);
      expect((await post(app.url, { id: 2 })).status).toBe(200);
      expect(await rows(1)).toMatchObject([{ actor: 'alice', actorType: 'user', source: 'nestjs' }]);
      expect(await rows(2)).toMatchObject([{ actor: null, source: 'nestjs' }]);
    } finally {
      await app.close();
    }
  });

  it('forRootAsync: options (and the Threadline instance) come from a factory with injected config', async () => {
    @Module({
      imports: [
        ThreadlineModule.forRootAsync({
          imports: [ConfigModule],
          inject: [AppConfig],
          useFactory: async (config: AppConfig) => {
            config.databaseUrl = db.server.url;
            const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 2 });
            pools.push(pool);
            return {
              threadline: createThreadline({ db: pool }),
              source: 'billing-api',
              actor: (req) => {
                const id = req.headers[config.actorHeader];
                return typeof id === 'string' ? ActorRef.serviceAccount(id) : undefined;
              },
            };
          },
        }),
      ],
    })
    class ThreadlineFromFactory {}
    const factoryApp = await listen(itemsModule(table, ThreadlineFromFactory));
    try {
      const tl = factoryApp.app.get(Threadline);
      expect(tl).toBeInstanceOf(Threadline);
      expect(tl).not.toBe(db.tl);
      expect(factoryApp.app.get(THREADLINE)).toBe(tl);
      const res = await post(factoryApp.url, { id: 10 }, { 'x-user': 'invoicer', 'x-request-id': 'r-10' });
      expect(res.status).toBe(200);
      expect(await rows(10)).toMatchObject([
        { actor: 'invoicer', actorType: 'service_account', source: 'billing-api', requestId: 'r-10' },
      ]);
    } finally {
      await factoryApp.close();
    }
  });

  it('fails the request through Nest exception filters when the actor callback throws; nothing is written', async () => {
    const module = itemsModule(
      table,
      ThreadlineModule.forRoot({
        threadline: db.tl,
        actor: (req) => {
          if (req.headers['x-boom']) throw new Error('token service down');
          return undefined;
        },
      }),
    );
    @Module({ imports: [module], providers: [{ provide: APP_FILTER, useClass: RecordingFilter }] })
    class Root {}
    const app = await listen(Root);
    try {
      seen.length = 0;
      const res = await post(app.url, { id: 20 }, { 'x-boom': '1' });
      expect(res.status).toBe(500);
      expect(await rows(20)).toHaveLength(0);
      expect(seen).toHaveLength(1);
      expect(isThreadlineError(seen[0], 'CALLBACK_FAILED')).toBe(true);
      expect((seen[0] as Error).message).toContain('token service down');
      expect((await post(app.url, { id: 21 })).status).toBe(200);
      expect(await rows(21)).toHaveLength(1);
    } finally {
      await app.close();
    }
  });

  it('a request never inherits a context that was active where the app was started', async () => {
    const boot = { actor: ActorRef.system('boot'), requestId: 'boot', correlationId: 'boot' };
    const app = await runWithAuditContext(boot, () =>
      listen(itemsModule(table, ThreadlineModule.forRoot({ threadline: db.tl }))),
    );
    try {
      expect((await post(app.url, { id: 25 })).status).toBe(200);
      const [row] = await rows(25);
      expect(row).toMatchObject({ actor: null, source: 'nestjs' });
      expect(row!.requestId).not.toBe('boot');
      expect(row!.correlationId).toBe(row!.requestId);
    } finally {
      await app.close();
    }
  });

  it('records the remote address, and leaves it out with recordRemoteAddress: false', async () => {
    const withAddress = await listen(itemsModule(table, ThreadlineModule.forRoot({ threadline: db.tl })));
    try {
      expect((await post(withAddress.url, { id: 40 })).status).toBe(200);
    } finally {
      await withAddress.close();
    }
    const without = await listen(
      itemsModule(table, ThreadlineModule.forRoot({ threadline: db.tl, recordRemoteAddress: false })),
    );
    try {
      expect((await post(without.url, { id: 41 })).status).toBe(200);
    } finally {
      await without.close();
    }
    expect((await rows(40)).map((r) => r.meta)).toEqual([{ remoteAddress: '127.0.0.1' }]);
    expect((await rows(41)).map((r) => r.meta)).toEqual([null]);
  });

  it('outside a request there is no context: writes are recorded without an actor', async () => {
    const app = await listen(itemsModule(table, ThreadlineModule.forRoot({ threadline: db.tl })));
    try {
      expect(getAuditContext()).toBeUndefined();
      await app.app.get(Threadline).query(`insert into ${table} (id) values (30)`);
      expect(await rows(30)).toMatchObject([{ actor: null, requestId: null }]);
    } finally {
      await app.close();
    }
  });
});

describe('ThreadlineModule options', () => {
  it('rejects a missing Threadline instance or a bad source with ThreadlineError', () => {
    expect(() => ThreadlineModule.forRoot({} as never)).toThrow(/options.threadline must be a Threadline/);
    const pool = new pg.Pool({ max: 1 });
    expect(() =>
      ThreadlineModule.forRoot({ threadline: createThreadline({ db: pool }), source: ' ' }),
    ).toThrow(expect.objectContaining({ code: 'INVALID_CONTEXT' }));
    return pool.end();
  });

  it('rejects a bad instance from forRootAsync when the app starts', async () => {
    @Module({ imports: [ThreadlineModule.forRootAsync({ useFactory: () => ({ threadline: {} as never }) })] })
    class Root {}
    await expect(listen(Root)).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});
