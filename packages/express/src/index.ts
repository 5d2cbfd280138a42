import {
  type ActorRef,
  type ActorResolver,
  requestAuditContext,
  resolveActorNow,
  runWithFreshAuditContext,
} from '@threadline/core/adapter';
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export interface AuditContextOptions {
  /**
   * Names the actor of a request; may be async. Return undefined when there is none yet (a later
   * auth middleware can still call setAuditActor). Throwing, or returning something that is not an
   * ActorRef, fails the request with ThreadlineError('CALLBACK_FAILED') passed to next(err).
   */
  actor?: ActorResolver<[req: Request]>;
  /** The `source` recorded on audit transactions, e.g. the service name. Default "express". */
  source?: string;
}

const WHERE = '@threadline/express auditContext';

/**
 * Express middleware that runs the rest of the request (later middleware, handlers) inside one
 * Threadline audit context: request id from x-request-id (else a new UUID), correlation id from
 * x-correlation-id (else the request id), `req.ip` as meta.remoteAddress, and the actor.
 */
export function auditContext(options: AuditContextOptions = {}): RequestHandler {
  const source = options.source ?? 'express';
  runWithFreshAuditContext({ source }, () => undefined); // rejects a bad `source` now, with core's rules
  return (req: Request, _res: Response, next: NextFunction): void => {
    const ctx = requestAuditContext({
      header: (name) => req.get(name),
      remoteAddress: req.ip ?? req.socket?.remoteAddress,
      source,
    });
    // Fresh: a request never inherits a context that was active where the server was started.
    const start = (actor: ActorRef | undefined) => runWithFreshAuditContext({ ...ctx, actor }, next);
    let actor: ReturnType<typeof resolveActorNow>;
    try {
      actor = resolveActorNow(options.actor, WHERE, req);
    } catch (err) {
      next(err);
      return;
    }
    // A synchronous actor callback continues the request right away (no promise on the hot path).
    if (actor instanceof Promise) actor.then(start, next);
    else start(actor);
  };
}
