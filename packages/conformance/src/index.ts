export { type AuditRow, type ConformanceDb, openConformanceDb, testActor } from './fixture.js';
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
