import { describeTransactionAdapterConformance } from '@threadline/conformance';
import { knexHarness } from './harness.js';
import { VERSIONS } from './setup.js';

// Through PgBouncer and under faults (current release): conformance.heavy.test.ts (npm run test:load).
for (const [name, factory] of VERSIONS) describeTransactionAdapterConformance(knexHarness(name, factory));
