import { describeRequestAdapterConformance } from '@threadline/conformance';
import { honoHarness } from './harness.js';
import { honoVersions } from './versions.js';

// Through PgBouncer and under faults (current release): conformance.heavy.test.ts (npm run test:load).
for (const [name, HonoApp] of honoVersions) describeRequestAdapterConformance(honoHarness(name, HonoApp));
