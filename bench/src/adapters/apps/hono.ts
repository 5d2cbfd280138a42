/** The bench app on Hono (served by @hono/node-server); the Threadline variant mounts @threadline/hono's auditContext(). */
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { type AppDeps, floorStorage, ping, type RunningApp, recordFailure } from '../app.js';
import { ACTOR_HEADER } from '../protocol.js';
import { BadOrder, parseOrder } from '../shop.js';

export async function startHono(deps: AppDeps): Promise<RunningApp> {
  const app = new Hono();
  if (deps.variant === 'threadline') {
    const { auditContext } = await import('@threadline/hono');
    const actor = deps.actorFromHeader!;
    app.use(auditContext({ actor: (c) => actor(c.req.header(ACTOR_HEADER)) }));
  } else if (deps.variant === 'floor') {
    app.use(async (c, next) => {
      await floorStorage.run({ actor: c.req.header(ACTOR_HEADER) }, () => next());
    });
  }
  app.get('/ping', (c) => c.json(ping(deps)));
  const placeOrder = deps.placeOrder;
  if (placeOrder) {
    app.post('/orders', async (c) => {
      let order: ReturnType<typeof parseOrder>;
      try {
        order = parseOrder(await c.req.json());
      } catch (error) {
        return c.json({ error: (error as Error).message }, 400);
      }
      const placed = await placeOrder(order);
      deps.counters.served++;
      return c.json(placed);
    });
  }
  app.onError((error, c) => {
    if (error instanceof BadOrder) return c.json({ error: error.message }, 400);
    recordFailure(deps, error);
    return c.json({ error: 'internal' }, 500);
  });
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(s));
  });
  const address = server.address();
  return {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
