import { describeRequestAdapterConformance } from '@threadline/conformance';
import { expressHarness } from './harness.js';
import { expressVersions } from './versions.js';

// Through PgBouncer and under faults (current release): conformance.heavy.test.ts (npm run test:load).
for (const [name, express] of expressVersions)
  describeRequestAdapterConformance(expressHarness(name, express));
