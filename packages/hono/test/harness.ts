import type { RequestAdapterHarness, RequestAppOptions } from '@threadline/conformance';
import { ActorRef, setAuditActor } from '@threadline/core/adapter';
import type { Hono } from 'hono';
import { auditContext } from '../src/index.js';
import { type honoVersions, listen } from './versions.js';

interface Body {
  id: number;
  note?: string;
  actor?: string;
}

function conformanceApp(HonoApp: typeof Hono, { tl, table }: RequestAppOptions) {
  const app = new HonoApp();
  app.use(
    auditContext({
      actor: async (c) => {
        if (c.req.header('x-test-actor-throw')) throw new Error('actor lookup failed');
        const id = c.req.header('x-test-actor');
        return id ? ActorRef.user(id) : undefined;
      },
    }),
  );
  const insert = `insert into ${table} (id, note) values ($1, $2)`;
  app.post('/items', async (c) => {
    const body = await c.req.json<Body>();
    const { auditTransactionId } = await tl.transaction(async (tx) => {
      await tx.query(insert, [body.id, body.note ?? null]);
    });
    return c.json({ auditTransactionId });
  });
  app.post('/items/fail', async (c) => {
    const body = await c.req.json<Body>();
    await tl.transaction(async (tx) => {
      await tx.query(insert, [body.id, null]);
      throw new Error('handler failed');
    });
    return c.json({ ok: true });
  });
  app.post('/items/autocommit', async (c) => {
    const body = await c.req.json<Body>();
    await tl.query(insert, [body.id, body.note ?? null]);
    return c.json({ ok: true });
  });
  // An auth middleware that runs after auditContext and names the actor, as a guard would.
  app.use('/items/late-actor', async (c, next) => {
    setAuditActor(ActorRef.user((await c.req.json<Body>()).actor!));
    await next();
  });
  app.post('/items/late-actor', async (c) => {
    const body = await c.req.json<Body>();
    await tl.transaction(async (tx) => {
      await tx.query(insert, [body.id, null]);
    });
    return c.json({ ok: true });
  });
  app.onError((err, c) =>
    c.json({ error: err.name, code: (err as { code?: string }).code, message: err.message }, 500),
  );
  return app;
}

/** The request-adapter conformance harness for one hono version. */
export function honoHarness(name: string, HonoApp: (typeof honoVersions)[number][1]): RequestAdapterHarness {
  return {
    name: `@threadline/hono on ${name}`,
    start: async (options) => listen(conformanceApp(HonoApp, options)),
  };
}
