import type { RequestAdapterHarness, RequestAppOptions } from '@threadline/conformance';
import { ActorRef, setAuditActor } from '@threadline/core/adapter';
import type { NextFunction, Request, Response } from 'express';
import { auditContext } from '../src/index.js';
import { type ExpressFactory, listen } from './versions.js';

// Express 4 does not forward rejected promises from handlers, so every async handler here
// passes its error to next(err) itself (which also works on Express 5).
const handle =
  (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) =>
    fn(req, res).catch(next);

function conformanceApp(express: ExpressFactory, { tl, table }: RequestAppOptions) {
  const app = express();
  app.use(express.json());
  app.use(
    auditContext({
      actor: async (req) => {
        if (req.get('x-test-actor-throw')) throw new Error('actor lookup failed');
        const id = req.get('x-test-actor');
        return id ? ActorRef.user(id) : undefined;
      },
    }),
  );
  const insert = (req: Request) =>
    tl.query(`insert into ${table} (id, note) values ($1, $2)`, [req.body.id, req.body.note ?? null]);
  app.post(
    '/items',
    handle(async (req, res) => {
      const { auditTransactionId } = await tl.transaction(async (tx) => {
        await tx.query(`insert into ${table} (id, note) values ($1, $2)`, [
          req.body.id,
          req.body.note ?? null,
        ]);
      });
      res.json({ auditTransactionId });
    }),
  );
  app.post(
    '/items/fail',
    handle(async (req) => {
      await tl.transaction(async (tx) => {
        await tx.query(`insert into ${table} (id) values ($1)`, [req.body.id]);
        throw new Error('handler failed');
      });
    }),
  );
  app.post(
    '/items/autocommit',
    handle(async (req, res) => {
      await insert(req);
      res.json({ ok: true });
    }),
  );
  // An auth middleware that runs after auditContext and names the actor, as a guard would.
  const lateAuth = (req: Request, _res: Response, next: NextFunction) => {
    setAuditActor(ActorRef.user(req.body.actor));
    next();
  };
  app.post(
    '/items/late-actor',
    lateAuth,
    handle(async (req, res) => {
      await tl.transaction(async (tx) => {
        await tx.query(`insert into ${table} (id) values ($1)`, [req.body.id]);
      });
      res.json({ ok: true });
    }),
  );
  app.use((err: Error & { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
    res.status(500).json({ error: err.name, code: err.code, message: err.message });
  });
  return app;
}

/** The request-adapter conformance harness for one express version. */
export function expressHarness(name: string, express: ExpressFactory): RequestAdapterHarness {
  return {
    name: `@threadline/express on ${name}`,
    start: async (options) => listen(conformanceApp(express, options)),
  };
}
