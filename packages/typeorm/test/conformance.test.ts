import { describeTransactionAdapterConformance } from '@threadline/conformance';
import { typeormHarness } from './harness.js';
import { VERSIONS } from './setup.js';

// Through PgBouncer and under faults (current release): conformance.heavy.test.ts (npm run test:load).
for (const [name, orm] of VERSIONS) describeTransactionAdapterConformance(typeormHarness(name, orm));
