import { describeRequestAdapterConformance } from '@threadline/conformance';
import { nestHarness } from './app.js';

// Through PgBouncer and under faults: conformance.heavy.test.ts (npm run test:load).
describeRequestAdapterConformance(nestHarness);
