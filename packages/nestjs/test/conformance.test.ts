import { describeRequestAdapterConformance } from '@threadline/conformance';
import { conformanceApp } from './app.js';

describeRequestAdapterConformance({
  name: '@threadline/nestjs (Express platform)',
  start: ({ tl, table }) => conformanceApp(tl, table),
});
