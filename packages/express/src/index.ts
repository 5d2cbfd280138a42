import {
  type ActorResolver,
  checkActorResolver,
  checkContextSource,
  readSetupOptions,
  runRequestInAuditContext,
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
  /**
   * Record the client's address as the context's `meta.remoteAddress` (it travels in the binding
   * statement's parameters, which ORM query logging prints). Default true.
   */
  recordRemoteAddress?: boolean;
}

const WHERE = '@threadline/express auditContext';

/**
 * Express middleware that runs the rest of the request (later middleware, handlers) inside one
 * Threadline audit context: request id from x-request-id (else a new UUID), correlation id from
 * x-correlation-id (else the request id), `req.ip` as meta.remoteAddress, and the actor.
 */
export function auditContext(input: AuditContextOptions = {}): RequestHandler {
  const options: AuditContextOptions = readSetupOptions(input, '@threadline/express auditContext()');
  checkActorResolver(options.actor, '@threadline/express auditContext()');
  const source = checkContextSource(options.source ?? 'express', '@threadline/express auditContext()');
  return (req: Request, _res: Response, next: NextFunction): void => {
    const info = {
      header: (name: string) => req.get(name),
      remoteAddress: req.ip ?? req.socket?.remoteAddress,
      recordRemoteAddress: options.recordRemoteAddress,
      source,
    };
    let pending: unknown;
    try {
      pending = runRequestInAuditContext(info, options.actor, WHERE, req, () => next());
    } catch (err) {
      next(err); // the actor callback failed: no handler runs
      return;
    }
    if (pending instanceof Promise) pending.catch(next);
  };
}

export { operatorSurface } from './operator.js';
