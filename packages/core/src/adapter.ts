/**
 * The entry for adapter authors (request middleware, job wrappers, ORM hooks). It is small on
 * purpose: core owns every SQL statement and every rule about context values; an adapter only
 * decides *when* to open a context or run the binding statement.
 */
import { contextBinding } from './binding.js';

export { ActorRef } from './actor-ref.js';
export {
  type ActorResolver,
  type IncomingRequestInfo,
  JOB_CONTEXT_KEY,
  type JobContextData,
  jobContextData,
  readJobContextData,
  requestAuditContext,
  resolveActor,
  runRequestInAuditContext,
} from './adapter-helpers.js';
export {
  type AttributedStatement,
  claimConnection,
  runAttributedStatement,
} from './attributed-statement.js';
export { type ContextBinding, contextBinding } from './binding.js';
export {
  type AuditContext,
  cleanContextId,
  getAuditContext,
  runWithAuditContext,
  runWithFreshAuditContext,
  setAuditActor,
} from './context.js';
export { isThreadlineError, ThreadlineError } from './errors.js';
export type { SqlSession } from './sql-client.js';
export { isProvablyReadOnly, needsAttribution, transactionControl } from './statement-rules.js';
export type { Threadline } from './threadline.js';

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
