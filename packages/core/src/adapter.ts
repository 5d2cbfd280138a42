/**
 * The entry for adapter authors (request middleware, job wrappers, ORM hooks). It is small on
 * purpose: core owns every SQL statement and every rule about context values; an adapter only
 * decides *when* to open a context or run the binding statement.
 */
export {
  applyPatches,
  missingMethod,
  readInstance,
  readThreadlineOption,
  unpatchable,
} from './adapter-instance.js';
export {
  type AttributedStatement,
  claimConnection,
  runAttributedStatement,
} from './attribution/attributed-statement.js';
export { isProvablyReadOnly, needsAttribution, transactionControl } from './attribution/statement-rules.js';
export { ActorRef } from './context/actor-ref.js';
export {
  type ActorResolver,
  checkActorResolver,
  checkContextSource,
  type IncomingRequestInfo,
  JOB_CONTEXT_KEY,
  type JobContextData,
  jobContextData,
  readJobContextData,
  requestAuditContext,
  resolveActor,
  runRequestInAuditContext,
} from './context/adapter-helpers.js';
export { bindAuditContext, type ContextBinding, contextBinding } from './context/binding.js';
export {
  type AuditContext,
  cleanContextId,
  getAuditContext,
  runWithAuditContext,
  runWithFreshAuditContext,
  setAuditActor,
} from './context/context.js';
export { type JobContextInput, jobAuditContext } from './context/job-context.js';
export type { SqlSession } from './db/sql-client.js';
export { isThreadlineError, ThreadlineError } from './errors.js';
export { parseSealSchedule } from './integrity/schedule.js';
export { readSetupOptions } from './plain-input.js';
export { parsePurgeSchedule } from './retention/schedule.js';
export type { Threadline } from './threadline.js';
