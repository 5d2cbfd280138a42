import {
  ActorRef,
  getAuditContext,
  isThreadlineError,
  runWithAuditContext,
  setAuditActor,
} from '@threadline/core/adapter';
import { Hono } from 'hono';
import { stream } from 'hono/streaming';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { type AuditContextOptions, auditContext } from '../src/index.js';
import { honoVersions, listen } from './versions.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

type Ctx = Record<string, unknown> | null;

/** An app whose routes report the audit context they see; errors are reported with their code. */
function makeApp(HonoApp: typeof Hono, options: AuditContextOptions, withOnError = true) {
  const app = new HonoApp();
  const seen = { before: 'unset' as unknown, handler: 0 };
  app.use(async (_c, next) => {
    seen.before = getAuditContext();
    await next();
  });
  app.use(auditContext(options));
  app.use('/auth', async (c, next) => {
    setAuditActor(ActorRef.user(c.req.header('x-late') ?? 'none'));
    await next();
  });
  app.all('*', async (c) => {
    seen.handler += 1;
    await new Promise((r) => setTimeout(r, 2));
    return c.json({ ctx: getAuditContext() ?? null });
  });
  if (withOnError) {
    app.onError((err, c) =>
      c.json(
        { error: err.name, code: (err as { code?: string }).code, cause: (err.cause as Error)?.message },
        500,
      ),
    );
  }
  const call = async (path = '/a', headers: Record<string, string> = {}) => {
    const res = await app.request(path, { headers });
    return { status: res.status, body: (await res.json()) as { ctx?: Ctx; error?: string; code?: string } };
  };
  return { app, call, seen };
}

describe.each(honoVersions)('auditContext on %s', (_name, HonoApp) => {
  it('opens a context with the request ids, source and an async actor (in-process app.request)', async () => {
    const { call } = makeApp(HonoApp, {
      actor: async (c) => {
        await new Promise((r) => setTimeout(r, 5));
        return ActorRef.user(c.req.header('x-user') ?? 'none');
      },
    });
    const { body } = await call('/a', {
      'x-user': '42',
      'x-request-id': ' req-1 ',
      'x-correlation-id': 'corr-1',
    });
    // app.request() has no socket, so no remote address is recorded.
    expect(body.ctx).toEqual({
      actor: { type: 'user', id: '42' },
      requestId: 'req-1',
      correlationId: 'corr-1',
      source: 'hono',
    });
  });

  it('records the remote address when served by @hono/node-server', async () => {
    const { app } = makeApp(HonoApp, {});
    const server = await listen(app);
    servers.push(server);
    const body = (await (await fetch(`${server.url}/a`)).json()) as { ctx: Ctx };
    expect(body.ctx?.meta).toEqual({ remoteAddress: '127.0.0.1' });
  });

  it('recordRemoteAddress: false leaves the address out under @hono/node-server', async () => {
    const { app } = makeApp(HonoApp, { recordRemoteAddress: false });
    const server = await listen(app);
    servers.push(server);
    const body = (await (await fetch(`${server.url}/a`, { headers: { 'x-request-id': 'r-2' } })).json()) as {
      ctx: Ctx;
    };
    expect(body.ctx?.meta).toBeUndefined();
    expect(body.ctx?.requestId).toBe('r-2');
  });

  it('defaults the request id to a UUID and the correlation id to the request id', async () => {
    const { ctx } = (await makeApp(HonoApp, {}).call()).body;
    expect(ctx?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctx?.correlationId).toBe(ctx?.requestId);
    expect(ctx).not.toHaveProperty('actor');
  });

  it('ignores empty and over-long (in bytes) ids and accepts exactly 256 bytes', async () => {
    const { call } = makeApp(HonoApp, {});
    const empty = (await call('/a', { 'x-request-id': '   ', 'x-correlation-id': '' })).body.ctx;
    expect(empty?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(empty?.correlationId).toBe(empty?.requestId);
    // 130 characters, but 260 bytes in UTF-8: ignored.
    const wide = (await call('/a', { 'x-request-id': 'r', 'x-correlation-id': 'é'.repeat(130) })).body.ctx;
    expect(wide?.correlationId).toBe('r');
    const edge = (await call('/a', { 'x-correlation-id': 'c'.repeat(256) })).body.ctx;
    expect(edge?.correlationId).toBe('c'.repeat(256));
  });

  it('records the source option', async () => {
    expect((await makeApp(HonoApp, { source: 'billing-api' }).call()).body.ctx?.source).toBe('billing-api');
  });

  it('lets a later middleware set the actor', async () => {
    const { call } = makeApp(HonoApp, { actor: () => undefined });
    expect((await call('/auth', { 'x-late': 'late' })).body.ctx?.actor).toEqual({ type: 'user', id: 'late' });
  });

  it('throws CALLBACK_FAILED into onError when the actor callback throws, without running the handler', async () => {
    const { call, seen } = makeApp(HonoApp, {
      actor: async () => {
        throw new Error('session store down');
      },
    });
    expect(await call()).toEqual({
      status: 500,
      body: { error: 'ThreadlineError', code: 'CALLBACK_FAILED', cause: 'session store down' },
    });
    expect(seen.handler).toBe(0);
  });

  it('answers 500 through Hono’s default error handler when there is no onError', async () => {
    const { app, seen } = makeApp(HonoApp, { actor: () => ({ type: 'user' }) as unknown as ActorRef }, false);
    const errors: unknown[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => errors.push(args[0]);
    try {
      expect((await app.request('/a')).status).toBe(500);
    } finally {
      console.error = original;
    }
    expect(isThreadlineError(errors[0], 'CALLBACK_FAILED')).toBe(true);
    expect(seen.handler).toBe(0);
  });

  it('scopes the context to its request: nothing outside, nothing carried to the next request', async () => {
    const { call, seen } = makeApp(HonoApp, {
      actor: (c) => (c.req.header('x-user') ? ActorRef.user('1') : undefined),
    });
    const first = (await call('/a', { 'x-user': '1', 'x-request-id': 'one' })).body.ctx;
    expect(first).toMatchObject({ actor: { id: '1' }, requestId: 'one' });
    const second = (await call('/a')).body.ctx;
    expect(second).not.toHaveProperty('actor');
    expect(second?.requestId).not.toBe('one');
    expect(seen.before).toBeUndefined();
    expect(getAuditContext()).toBeUndefined();
  });

  it('does not inherit a context active where the server was started or app.request was called', async () => {
    const outer = { actor: ActorRef.system('boot'), jobId: 'boot-job' };
    const { app, call } = makeApp(HonoApp, {});
    const server = await runWithAuditContext(outer, () => listen(app));
    servers.push(server);
    const served = (await (await fetch(`${server.url}/a`)).json()) as { ctx: Ctx };
    const inProcess = (await runWithAuditContext(outer, () => call('/a'))).body.ctx;
    for (const ctx of [served.ctx, inProcess]) {
      expect(ctx?.source).toBe('hono');
      expect(ctx).not.toHaveProperty('actor');
      expect(ctx).not.toHaveProperty('jobId');
    }
  });
});

describe('auditContext with Hono helpers and types', () => {
  it('keeps the context inside a streamed response body', async () => {
    const app = new Hono();
    app.use(auditContext({ actor: () => ActorRef.system('streamer') }));
    app.get('/s', (c) =>
      stream(c, async (s) => {
        await new Promise((r) => setTimeout(r, 2));
        await s.write(JSON.stringify(getAuditContext()?.actor ?? null));
      }),
    );
    const text = await (await app.request('/s')).text();
    expect(JSON.parse(text)).toEqual({ type: 'system', id: 'streamer' });
  });

  it('types the actor callback with the app’s Context, variables included', async () => {
    type AppEnv = { Variables: { userId: string } };
    const app = new Hono<AppEnv>();
    app.use(async (c, next) => {
      c.set('userId', 'u-9');
      await next();
    });
    app.use(
      auditContext<AppEnv>({
        actor: (c) => {
          expectTypeOf(c.get('userId')).toEqualTypeOf<string>();
          return ActorRef.user(c.get('userId'));
        },
      }),
    );
    app.get('/', (c) => c.json(getAuditContext()?.actor ?? null));
    expect(await (await app.request('/')).json()).toEqual({ type: 'user', id: 'u-9' });
  });

  it('rejects an invalid source when mounted', () => {
    let error: unknown;
    try {
      auditContext({ source: ' ' });
    } catch (err) {
      error = err;
    }
    expect(isThreadlineError(error, 'INVALID_CONTEXT')).toBe(true);
  });
});
