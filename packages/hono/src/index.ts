import {
  type ActorResolver,
  checkActorResolver,
  checkContextSource,
  readSetupOptions,
  runRequestInAuditContext,
} from '@threadline/core/adapter';
import type { Context, Env, MiddlewareHandler } from 'hono';

export interface AuditContextOptions<E extends Env = Env> {
  /**
   * Names the actor of a request; may be async. Return undefined when there is none yet (a later
   * middleware can still call setAuditActor). Throwing, or returning something that is not an
   * ActorRef, throws ThreadlineError('CALLBACK_FAILED') into Hono (app.onError, default 500).
   */
  actor?: ActorResolver<[c: Context<E>]>;
  /** The `source` recorded on audit transactions, e.g. the service name. Default "hono". */
  source?: string;
  /**
   * Record the client's address as the context's `meta.remoteAddress` (it travels in the binding
   * statement's parameters, which ORM query logging prints). Default true.
   */
  recordRemoteAddress?: boolean;
}

const WHERE = '@threadline/hono auditContext';

/**
 * Hono middleware that runs the rest of the request (later middleware, handlers) inside one
 * Threadline audit context: request id from x-request-id (else a new UUID), correlation id from
 * x-correlation-id (else the request id), the client address on @hono/node-server, and the actor.
 */
export function auditContext<E extends Env = Env>(input: AuditContextOptions<E> = {}): MiddlewareHandler<E> {
  const options: AuditContextOptions<E> = readSetupOptions(input, '@threadline/hono auditContext()');
  checkActorResolver(options.actor, '@threadline/hono auditContext()');
  const source = checkContextSource(options.source ?? 'hono', '@threadline/hono auditContext()');
  // Hono's compose awaits this inside its try: a failing actor callback reaches app.onError.
  return (c, next) =>
    runRequestInAuditContext(
      {
        header: (name) => c.req.header(name),
        remoteAddress: nodeRemoteAddress(c.env),
        recordRemoteAddress: options.recordRemoteAddress,
        source,
      },
      options.actor,
      WHERE,
      c,
      next,
    );
}

/** @hono/node-server hands the Node request over as `c.env.incoming`; other runtimes record none. */
function nodeRemoteAddress(env: unknown): string | undefined {
  return (env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket
    ?.remoteAddress;
}

export { operatorSurface } from './operator.js';
