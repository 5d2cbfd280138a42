import { describeRequestAdapterConformance, describeRequestAdapterFaults } from '@threadline/conformance';
import { expressHarness } from './harness.js';
import { expressVersions } from './versions.js';

// Through PgBouncer and under faults on the current release (the glue is the same on each).
const [name, express] = expressVersions[0]!;
const harness = expressHarness(name, express);
describeRequestAdapterConformance(harness, { pgbouncer: true });
describeRequestAdapterFaults(harness);
