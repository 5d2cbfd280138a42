import { randomUUID } from 'node:crypto';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { ActorRef } from './actor-ref.js';
import {
  type AuditContext,
  cleanContextId,
  getAuditContext,
  runWithFreshAuditContext,
  validateAuditContext,
} from './context.js';

/** What a request adapter knows about an incoming request. */
export interface IncomingRequestInfo {
  /** Read one header (case-insensitive); undefined when absent. */
  header(name: string): string | undefined;
  remoteAddress?: string | undefined;
  /** false: leave the remote address out of the context (and so out of the binding and ORM logs). */
  recordRemoteAddress?: boolean | undefined;
  /** Where the context comes from: the framework name, e.g. "express". */
  source: string;
}

/**
 * The audit context of an HTTP request: `requestId` from `x-request-id` (else a new UUID),
 * `correlationId` from `x-correlation-id` (else the request id), the remote address in `meta`.
 * Header values are trimmed; empty, over-long (>256 bytes) or control-character values are ignored.
 */
export function requestAuditContext(info: IncomingRequestInfo): AuditContext {
  const requestId = cleanContextId(info.header('x-request-id')) ?? randomUUID();
  const correlationId = cleanContextId(info.header('x-correlation-id')) ?? requestId;
  const address = info.recordRemoteAddress === false ? undefined : cleanContextId(info.remoteAddress);
  // One literal that already has every field, `actor` included (undefined fields mean "none"):
  // adapters add the actor with `{ ...ctx, actor }`, and V8 11 (Node 20) gives each object spread
  // that adds a key its own hidden class, which made that object and every read of it several
  // times slower (bench/README.md, adapter benchmark).
  return {
    requestId,
    correlationId,
    source: info.source,
    meta: address ? { remoteAddress: address } : undefined,
    actor: undefined,
  };
}

/**
 * Check an adapter's `source` option when the adapter is set up, by core's rule for context ids
 * (id-rule.ts), so a bad value fails at start-up rather than on the first request. Returns the value as it will be recorded
 * (trimmed). Throws ThreadlineError('INVALID_CONTEXT') naming `where`.
 */
export function checkContextSource(source: unknown, where: string): string {
  try {
    const checked = validateAuditContext({ source }).source;
    if (checked !== undefined) return checked;
  } catch (cause) {
    throw new ThreadlineError('INVALID_CONTEXT', `${where}: ${(cause as Error).message}`, { cause });
  }
  throw new ThreadlineError('INVALID_CONTEXT', `${where}: source must be a non-empty string, e.g. "http"`);
}

/**
 * Check an adapter's `actor` option when the adapter is set up: absent, or a function. Throws
 * ThreadlineError('CONFIG_INVALID') naming `where`, rather than failing every request later.
 */
export function checkActorResolver(value: unknown, where: string): void {
  if (value !== undefined && typeof value !== 'function')
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${where}: actor must be a function that returns the actor, e.g. (req) => ActorRef.user(req.user.id)`,
    );
}

/** A user callback that names the actor; may be async; may return nothing (no actor). */
export type ActorResolver<Args extends unknown[]> = (
  ...args: Args
) => ActorRef | null | undefined | Promise<ActorRef | null | undefined>;

/**
 * Call a user's actor callback. Its result is validated; when it throws or returns something that
 * is not an ActorRef, this throws ThreadlineError('CALLBACK_FAILED') so the request or job fails
 * before any write could be attributed to the wrong actor.
 */
export async function resolveActor<Args extends unknown[]>(
  resolver: ActorResolver<Args> | undefined,
  where: string,
  ...args: Args
): Promise<ActorRef | undefined> {
  return resolveActorNow(resolver, where, ...args);
}

/**
 * resolveActor for a request's hot path: a synchronous callback's result is validated and returned
 * as is (no promise, no microtask; a failure throws ThreadlineError('CALLBACK_FAILED') right
 * away), an async callback's as a promise (a failure rejects with the same error).
 */
export function resolveActorNow<Args extends unknown[]>(
  resolver: ActorResolver<Args> | undefined,
  where: string,
  ...args: Args
): ActorRef | undefined | Promise<ActorRef | undefined> {
  if (!resolver) return undefined;
  let value: unknown;
  try {
    value = resolver(...args);
  } catch (cause) {
    throw callbackThrew(where, cause);
  }
  if (isThenable(value)) {
    return Promise.resolve(value).then(
      (settled) => checkedActor(settled, where),
      (cause: unknown) => {
        throw callbackThrew(where, cause);
      },
    );
  }
  return checkedActor(value, where);
}

/**
 * Run the rest of a request (`next`) in its own audit context: requestAuditContext(info) plus the
 * actor named by `resolver(request)`. With a synchronous resolver `next` runs synchronously (no
 * promise or microtask on the request's hot path) and its result is returned; with an async one,
 * after it settles. A failing resolver throws (or rejects with) ThreadlineError('CALLBACK_FAILED')
 * and `next` never runs. Fresh: the request never inherits a context that was active where the
 * server started.
 */
export function runRequestInAuditContext<R, T>(
  info: IncomingRequestInfo,
  resolver: ActorResolver<[request: R]> | undefined,
  where: string,
  request: R,
  next: () => T,
): T | Promise<Awaited<T>> {
  const ctx = requestAuditContext(info);
  const actor = resolveActorNow(resolver, where, request);
  if (actor instanceof Promise) {
    return actor.then((resolved) => {
      ctx.actor = resolved;
      // then() flattens a promise that `next` returns: the awaited value is what callers get.
      return runWithFreshAuditContext(ctx, next) as Awaited<T>;
    });
  }
  ctx.actor = actor;
  return runWithFreshAuditContext(ctx, next);
}

function callbackThrew(where: string, cause: unknown): ThreadlineError {
  return new ThreadlineError(
    'CALLBACK_FAILED',
    `${where}: the actor callback threw (${(cause as Error)?.message ?? String(cause)}); the work was not run, so nothing was attributed`,
    { cause },
  );
}

function checkedActor(value: unknown, where: string): ActorRef | undefined {
  if (value === null || value === undefined) return undefined;
  try {
    return ActorRef.parse(value);
  } catch (cause) {
    throw new ThreadlineError(
      'CALLBACK_FAILED',
      `${where}: the actor callback returned something that is not an ActorRef (${isThreadlineError(cause) ? cause.message : 'invalid'}); return ActorRef.user(id) or undefined`,
      { cause },
    );
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** The reserved key under which job data carries the enqueuing context. */
export const JOB_CONTEXT_KEY = '__threadline';

/** The part of a context that travels with a job. */
export interface JobContextData {
  actor?: ActorRef;
  correlationId?: string;
  /** The request or job that enqueued this one. */
  causationId?: string;
}

/**
 * What a producer stamps into job data: the current actor, correlation id, and the current
 * request or job id as the new job's causation id. Undefined outside any context.
 */
export function jobContextData(
  ctx: Readonly<AuditContext> | undefined = getAuditContext(),
): JobContextData | undefined {
  if (!ctx) return undefined;
  const out: JobContextData = {};
  if (ctx.actor) out.actor = ctx.actor;
  if (ctx.correlationId) out.correlationId = ctx.correlationId;
  const cause = ctx.jobId ?? ctx.requestId;
  if (cause) out.causationId = cause;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Read job context data back, ignoring (not failing on) values that are malformed. */
export function readJobContextData(value: unknown): JobContextData {
  if (typeof value !== 'object' || value === null) return {};
  const record = value as Record<string, unknown>;
  const out: JobContextData = {};
  if (record.actor !== undefined) {
    try {
      out.actor = ActorRef.parse(record.actor);
    } catch {
      // A malformed actor in job data is dropped; the wrapper falls back to its default actor.
    }
  }
  const correlationId = cleanContextId(record.correlationId);
  if (correlationId) out.correlationId = correlationId;
  const causationId = cleanContextId(record.causationId);
  if (causationId) out.causationId = causationId;
  return out;
}
