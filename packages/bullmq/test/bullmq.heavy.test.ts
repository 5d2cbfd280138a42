import { describeJobAdapterConformance, describeJobAdapterFaults } from '@threadline/conformance';
import * as bullmq from 'bullmq';
import { bullmqHarness } from './harness.js';

const harness = bullmqHarness('bullmq 6.7.0', bullmq);
describeJobAdapterConformance(harness, { pgbouncer: true });
describeJobAdapterFaults(harness);
