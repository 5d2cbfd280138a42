import { describeOperatorMountConformance } from '@threadline/conformance';
import { Hono } from 'hono';
import { operatorSurface } from '../src/index.js';
import { listen } from './versions.js';

describeOperatorMountConformance({
  name: 'Hono',
  async start({ tl, basePath, authorize }) {
    const app = new Hono();
    app.route(
      basePath,
      operatorSurface({ threadline: tl, basePath, authorize: (c) => authorize((n) => c.req.header(n)) }),
    );
    return listen(app);
  },
});
