import { describeJobAdapterConformance } from '@threadline/conformance';
import * as bullmq from 'bullmq';
import { describeBullmqAdapter } from './behaviour.js';
import { bullmqHarness } from './harness.js';

describeJobAdapterConformance(bullmqHarness('bullmq 6.7.0', bullmq));
describeBullmqAdapter('bullmq 6.7.0', bullmq);
