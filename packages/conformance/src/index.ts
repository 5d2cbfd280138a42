export {
  describeJobAdapterFaults,
  describeRequestAdapterFaults,
  describeTransactionAdapterFaults,
} from './faults/adapters.js';
export { type FaultGate, GATED_ID, installFaultGate } from './faults/gate.js';
export {
  describeFaultScenarios,
  type FaultOutcome,
  type FaultTarget,
  type FaultTargetOptions,
  faultThreadline,
  type OpenFaultTarget,
  outcomeOf,
} from './faults/scenarios.js';
export {
  type AuditRow,
  type ConformanceDb,
  type ConformanceOptions,
  openConformanceDb,
  testActor,
} from './fixture.js';
export {
  describeJobAdapterConformance,
  type JobAdapterHarness,
  type JobOutcome,
  type JobTestData,
  type JobWorkerHandle,
  type JobWorkerOptions,
} from './job.js';
export {
  describeOperatorMountConformance,
  type HeaderAuthorize,
  type OperatorMountHarness,
} from './operator.js';
export {
  describeRequestAdapterConformance,
  type RequestAdapterHarness,
  type RequestAppOptions,
} from './request.js';
export {
  describeTransactionAdapterConformance,
  type Exec,
  type OrmHandle,
  type OrmTransaction,
  type TransactionAdapterHarness,
} from './transaction.js';
