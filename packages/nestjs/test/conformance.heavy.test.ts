import { describeRequestAdapterConformance, describeRequestAdapterFaults } from '@threadline/conformance';
import { nestHarness } from './app.js';

describeRequestAdapterConformance(nestHarness, { pgbouncer: true });
describeRequestAdapterFaults(nestHarness);
