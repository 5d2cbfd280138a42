import { describeRequestAdapterConformance, describeRequestAdapterFaults } from '@threadline/conformance';
import { honoHarness } from './harness.js';
import { honoVersions } from './versions.js';

// Through PgBouncer and under faults on the current release (the glue is the same on each).
const [name, HonoApp] = honoVersions[0]!;
const harness = honoHarness(name, HonoApp);
describeRequestAdapterConformance(harness, { pgbouncer: true });
describeRequestAdapterFaults(harness);
