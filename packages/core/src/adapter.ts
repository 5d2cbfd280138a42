/**
 * The entry for adapter authors (TypeORM, Knex, request and job middleware). It is deliberately
 * small: core owns every SQL statement; an adapter only decides *when* to run them.
 */
import { contextBinding } from './binding.js';

export { ActorRef } from './actor-ref.js';
export { type ContextBinding, contextBinding } from './binding.js';
export {
  type AuditContext,
  cleanContextId,
  getAuditContext,
  runWithAuditContext,
  setAuditActor,
} from './context.js';
export { isThreadlineError, ThreadlineError } from './errors.js';
export type { SqlSession } from './sql-client.js';
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
