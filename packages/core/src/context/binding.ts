import { ActorRef } from './actor-ref.js';
import type { AuditContext } from './context.js';
import { getAuditContext } from './context.js';

/** The one statement that binds an audit context into the current transaction. */
export const BIND_CONTEXT_SQL =
  "select set_config('threadline.actor_ref', $1, true), set_config('threadline.context', $2, true)";

export interface ContextBinding {
  readonly sql: string;
  readonly params: [actorRef: string, context: string];
}

/**
 * The binding statement for `ctx` (default: the active context), or null when there is no
 * context to bind. Values travel only as bound parameters, never as SQL text.
 */
export function contextBinding(
  ctx: Readonly<AuditContext> | undefined = getAuditContext(),
): ContextBinding | null {
  if (!ctx) return null;
  const rest: Record<string, unknown> = {};
  if (ctx.correlationId !== undefined) rest.correlationId = ctx.correlationId;
  if (ctx.requestId !== undefined) rest.requestId = ctx.requestId;
  if (ctx.jobId !== undefined) rest.jobId = ctx.jobId;
  if (ctx.causationId !== undefined) rest.causationId = ctx.causationId;
  if (ctx.source !== undefined) rest.source = ctx.source;
  if (ctx.meta !== undefined) rest.meta = ctx.meta;
  const hasRest = Object.keys(rest).length > 0;
  if (!ctx.actor && !hasRest) return null;
  return {
    sql: BIND_CONTEXT_SQL,
    params: [ctx.actor ? ActorRef.toJSON(ctx.actor) : '', hasRest ? JSON.stringify(rest) : ''],
  };
}

/**
 * Bind the active audit context into a transaction the adapter's library just began.
 * `run` executes one statement with bound parameters on that transaction's connection.
 * Does nothing (and returns false) outside a context.
 */
export async function bindAuditContext(
  run: (sql: string, params: readonly unknown[]) => Promise<unknown>,
): Promise<boolean> {
  const binding = contextBinding();
  if (!binding) return false;
  await run(binding.sql, binding.params);
  return true;
}
