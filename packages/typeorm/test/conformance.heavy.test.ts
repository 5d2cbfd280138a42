import {
  describeTransactionAdapterConformance,
  describeTransactionAdapterFaults,
} from '@threadline/conformance';
import { typeormHarness } from './harness.js';
import { VERSIONS } from './setup.js';

// Through PgBouncer and under faults on the current release (the glue is the same on each).
const [name, orm] = VERSIONS[0]!;
const harness = typeormHarness(name, orm);
describeTransactionAdapterConformance(harness, { pgbouncer: true });
describeTransactionAdapterFaults(harness);
