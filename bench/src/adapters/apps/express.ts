/** The bench app on Express 5; the Threadline variant mounts @threadline/express's auditContext(). */
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type AppDeps, floorStorage, ping, type RunningApp, recordFailure } from '../app.js';
import { ACTOR_HEADER } from '../protocol.js';
import { BadOrder, parseOrder } from '../shop.js';

export async function startExpress(deps: AppDeps): Promise<RunningApp> {
  const app = express();
  app.use(express.json());
  if (deps.variant === 'threadline') {
    const { auditContext } = await import('@threadline/express');
    const actor = deps.actorFromHeader!;
    app.use(auditContext({ actor: (req) => actor(req.get(ACTOR_HEADER)) }));
  } else if (deps.variant === 'floor') {
    app.use((req, _res, next) => floorStorage.run({ actor: req.get(ACTOR_HEADER) }, next));
  }
  app.get('/ping', (_req, res) => {
    res.json(ping(deps));
  });
  const placeOrder = deps.placeOrder;
  if (placeOrder) {
    app.post('/orders', async (req: Request, res: Response) => {
      try {
        const placed = await placeOrder(parseOrder(req.body));
        deps.counters.served++;
        res.json(placed);
      } catch (error) {
        if (error instanceof BadOrder) {
          res.status(400).json({ error: error.message });
          return;
        }
        recordFailure(deps, error);
        res.status(500).json({ error: 'internal' });
      }
    });
  }
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    recordFailure(deps, error);
    res.status(500).json({ error: 'internal' });
  });
  const server = await new Promise<ReturnType<typeof app.listen>>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
