export { PolicyChecks } from './policy.js';
export type {
  PolicyDifference,
  PolicyEntry,
  PolicyOptions,
  PolicyReport,
  PolicyState,
  Redaction,
} from './types.js';
