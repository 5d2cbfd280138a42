import { describeOperatorMountConformance } from '@threadline/conformance';
import { operatorSurface } from '../src/index.js';
import { expressVersions, listen } from './versions.js';

for (const [name, express] of expressVersions) {
  describeOperatorMountConformance({
    name: `Express ${name}`,
    async start({ tl, basePath, authorize }) {
      const app = express();
      // A body parser before the surface (as most apps have) must not break its forms.
      app.use(express.urlencoded({ extended: false }));
      app.use(
        basePath,
        operatorSurface({ threadline: tl, basePath, authorize: (req) => authorize((n) => req.get(n)) }),
      );
      return listen(app);
    },
  });
}
