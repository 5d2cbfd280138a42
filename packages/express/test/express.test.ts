import {
  ActorRef,
  getAuditContext,
  isThreadlineError,
  runWithAuditContext,
  setAuditActor,
} from '@threadline/core/adapter';
import type { NextFunction, Request, Response } from 'express';
import { afterEach, describe, expect, expectTypeOf, it } from 'vitest';
import { type AuditContextOptions, auditContext } from '../src/index.js';
import { type ExpressFactory, expressVersions, listen } from './versions.js';

const servers: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

interface Seen {
  status: number;
  body: { ctx?: Record<string, unknown> | null; error?: string; code?: string; cause?: string };
}

/** An app whose routes report the audit context they see; errors are reported with their code. */
async function serve(
  express: ExpressFactory,
  options: AuditContextOptions,
  setup?: (app: ReturnType<ExpressFactory>) => void,
  start = listen,
) {
  const app = express();
  const calls = { handler: 0 };
  setup?.(app);
  app.use(auditContext(options));
  app.use(express.json({ limit: '1mb' }));
  app.post('/auth', (req: Request, _res: Response, next: NextFunction) => {
    setAuditActor(ActorRef.user(req.body.actor));
    next();
  });
  app.use((_req: Request, res: Response) => {
    calls.handler += 1;
    setTimeout(() => res.json({ ctx: getAuditContext() ?? null }), 2);
  });
  app.use((err: Error & { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res
      .status(500)
      .json({ error: err.name, code: err.code, cause: (err.cause as Error | undefined)?.message });
  });
  const server = await start(app);
  servers.push(server);
  const call = async (path: string, headers: Record<string, string> = {}, body?: unknown): Promise<Seen> => {
    const res = await fetch(server.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body ?? {}),
    });
    return { status: res.status, body: (await res.json()) as Seen['body'] };
  };
  return { call, calls };
}

describe.each(expressVersions)('auditContext on %s', (_name, express) => {
  it('opens a context with the request ids, remote address, source and an async actor', async () => {
    const { call } = await serve(express, {
      actor: async (req) => {
        await new Promise((r) => setTimeout(r, 5));
        return ActorRef.user(req.get('x-user') ?? 'none');
      },
    });
    const seen = await call('/a', {
      'x-user': '42',
      'x-request-id': ' req-1 ',
      'x-correlation-id': 'corr-1',
    });
    expect(seen.status).toBe(200);
    expect(seen.body.ctx).toEqual({
      actor: { type: 'user', id: '42' },
      requestId: 'req-1',
      correlationId: 'corr-1',
      source: 'express',
      meta: { remoteAddress: '127.0.0.1' },
    });
  });

  it('defaults the request id to a UUID and the correlation id to the request id', async () => {
    const { call } = await serve(express, {});
    const { ctx } = (await call('/a')).body;
    expect(ctx?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(ctx?.correlationId).toBe(ctx?.requestId);
    expect(ctx).not.toHaveProperty('actor');
  });

  it('ignores empty and over-long (in bytes) ids and accepts exactly 256 bytes', async () => {
    const { call } = await serve(express, {});
    const empty = (await call('/a', { 'x-request-id': '   ', 'x-correlation-id': '' })).body.ctx;
    expect(empty?.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(empty?.correlationId).toBe(empty?.requestId);
    // 200 characters, but 400 bytes in UTF-8: ignored.
    const wide = (await call('/a', { 'x-request-id': 'r', 'x-correlation-id': 'é'.repeat(200) })).body.ctx;
    expect(wide?.correlationId).toBe('r');
    const edge = (await call('/a', { 'x-correlation-id': 'c'.repeat(256) })).body.ctx;
    expect(edge?.correlationId).toBe('c'.repeat(256));
  });

  it('uses req.ip, so a trusted proxy address follows the app’s trust proxy setting', async () => {
    const { call } = await serve(express, {}, (app) => app.set('trust proxy', true));
    const { ctx } = (await call('/a', { 'x-forwarded-for': '203.0.113.9' })).body;
    expect(ctx?.meta).toEqual({ remoteAddress: '203.0.113.9' });
  });

  it('recordRemoteAddress: false leaves the address out of the context', async () => {
    const { call } = await serve(express, { recordRemoteAddress: false }, (app) =>
      app.set('trust proxy', true),
    );
    const { ctx } = (await call('/a', { 'x-forwarded-for': '203.0.113.9', 'x-request-id': 'r-1' })).body;
    expect(ctx?.meta).toBeUndefined();
    expect(ctx?.requestId).toBe('r-1');
  });

  it('records the source option', async () => {
    const { call } = await serve(express, { source: 'billing-api' });
    expect((await call('/a')).body.ctx?.source).toBe('billing-api');
  });

  it('keeps the context across a body parser mounted after it', async () => {
    const { call } = await serve(express, { actor: () => ActorRef.serviceAccount('svc') });
    const seen = await call('/a', { 'x-request-id': 'big' }, { blob: 'x'.repeat(300_000) });
    expect(seen.body.ctx).toMatchObject({ requestId: 'big', actor: { type: 'service_account', id: 'svc' } });
  });

  it('lets a later auth middleware set the actor', async () => {
    const { call } = await serve(express, { actor: () => undefined });
    expect((await call('/auth', {}, { actor: 'late' })).body.ctx?.actor).toEqual({
      type: 'user',
      id: 'late',
    });
  });

  it('passes CALLBACK_FAILED to next(err) when the actor callback throws, without running the handler', async () => {
    const { call, calls } = await serve(express, {
      actor: async () => {
        throw new Error('session store down');
      },
    });
    const seen = await call('/a');
    expect(seen).toEqual({
      status: 500,
      body: { error: 'ThreadlineError', code: 'CALLBACK_FAILED', cause: 'session store down' },
    });
    expect(calls.handler).toBe(0);
  });

  it('passes CALLBACK_FAILED to next(err) when the actor callback returns a non-ActorRef', async () => {
    const { call, calls } = await serve(express, {
      actor: () => ({ type: 'user' }) as unknown as ActorRef,
    });
    expect((await call('/a')).body).toMatchObject({ error: 'ThreadlineError', code: 'CALLBACK_FAILED' });
    expect(calls.handler).toBe(0);
  });

  it('scopes the context to its request: nothing outside, nothing carried to the next request', async () => {
    let before: unknown = 'unset';
    const { call } = await serve(
      express,
      { actor: (req) => (req.get('x-user') ? ActorRef.user('1') : undefined) },
      (app) =>
        app.use((_req, _res, next) => {
          before = getAuditContext();
          next();
        }),
    );
    const first = (await call('/a', { 'x-user': '1', 'x-request-id': 'one' })).body.ctx;
    expect(first).toMatchObject({ actor: { id: '1' }, requestId: 'one' });
    const second = (await call('/a')).body.ctx;
    expect(second).not.toHaveProperty('actor');
    expect(second?.requestId).not.toBe('one');
    expect(before).toBeUndefined();
    expect(getAuditContext()).toBeUndefined();
  });

  it('does not inherit a context that was active where the server was started', async () => {
    const outer = { actor: ActorRef.system('boot'), jobId: 'boot-job' };
    const { call } = await serve(express, {}, undefined, (app) =>
      runWithAuditContext(outer, () => listen(app)),
    );
    const { ctx } = (await call('/a', { 'x-request-id': 'r' })).body;
    expect(ctx).toMatchObject({ requestId: 'r' });
    expect(ctx).not.toHaveProperty('actor');
    expect(ctx).not.toHaveProperty('jobId');
  });
});

describe('auditContext options', () => {
  it('types the actor callback with Express’s Request', () => {
    auditContext({
      actor: (req) => {
        expectTypeOf(req).toEqualTypeOf<Request>();
        return undefined;
      },
    });
  });

  it('rejects an invalid source when mounted', () => {
    let error: unknown;
    try {
      auditContext({ source: 'x'.repeat(300) });
    } catch (err) {
      error = err;
    }
    expect(isThreadlineError(error, 'INVALID_CONTEXT')).toBe(true);
  });
});
