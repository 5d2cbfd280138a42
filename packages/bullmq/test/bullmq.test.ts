import { describeJobAdapterConformance } from '@threadline/conformance';
import * as bullmq from 'bullmq';
import { describeBullmqAdapter } from './behaviour.js';
import { bullmqHarness } from './harness.js';

const harness = bullmqHarness('bullmq 6.7.0', bullmq);
describeJobAdapterConformance(harness);
// Through PgBouncer and under faults: bullmq.heavy.test.ts (npm run test:load).
describeBullmqAdapter('bullmq 6.7.0', bullmq);
