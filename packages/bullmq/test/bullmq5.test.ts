import { describeJobAdapterConformance } from '@threadline/conformance';
import * as bullmq5 from 'bullmq5';
import { describeBullmqAdapter } from './behaviour.js';
import { type BullmqModule, bullmqHarness } from './harness.js';

// bullmq 5 through the npm alias: same runtime API, slightly different type declarations.
const mq = bullmq5 as unknown as BullmqModule;
describeJobAdapterConformance(bullmqHarness('bullmq 5.81.5', mq));
describeBullmqAdapter('bullmq 5.81.5', mq);
