import {
  describeRequestAdapterConformance,
  describeRequestAdapterFaults,
  type RequestAdapterHarness,
} from '@threadline/conformance';
import { conformanceApp } from './app.js';

const harness: RequestAdapterHarness = {
  name: '@threadline/nestjs (Express platform)',
  start: ({ tl, table }) => conformanceApp(tl, table),
};
describeRequestAdapterConformance(harness);
describeRequestAdapterConformance(harness, { pgbouncer: true });
describeRequestAdapterFaults(harness);
