import { randomUUID } from 'node:crypto';
import { ActorRef } from './actor-ref.js';
import { type AuditContext, cleanContextId, getAuditContext } from './context.js';
import { isThreadlineError, ThreadlineError } from './errors.js';

/** What a request adapter knows about an incoming request. */
export interface IncomingRequestInfo {
  /** Read one header (case-insensitive); undefined when absent. */
  header(name: string): string | undefined;
  remoteAddress?: string | undefined;
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
  const ctx: AuditContext = { requestId, correlationId, source: info.source };
  const address = cleanContextId(info.remoteAddress);
  if (address) ctx.meta = { remoteAddress: address };
  return ctx;
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
  if (!resolver) return undefined;
  let value: unknown;
  try {
    value = await resolver(...args);
  } catch (cause) {
    throw new ThreadlineError(
      'CALLBACK_FAILED',
      `${where}: the actor callback threw (${(cause as Error)?.message ?? String(cause)}); the work was not run, so nothing was attributed`,
      { cause },
    );
  }
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
