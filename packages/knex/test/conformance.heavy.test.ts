import {
  describeTransactionAdapterConformance,
  describeTransactionAdapterFaults,
} from '@threadline/conformance';
import { knexHarness } from './harness.js';
import { VERSIONS } from './setup.js';

// Through PgBouncer and under faults on the current release (the glue is the same on each).
const [name, factory] = VERSIONS[0]!;
const harness = knexHarness(name, factory);
describeTransactionAdapterConformance(harness, { pgbouncer: true });
describeTransactionAdapterFaults(harness);
