import { defineConfig } from 'tsup';
import { packageBuild } from '../../tooling/build-preset.js';

export default defineConfig(
  packageBuild(['src/index.ts', 'src/adapter.ts', 'src/internal.ts'], {
    // import.meta.url in the CommonJS build (db/pg-pipeline.ts loads node-postgres' Result class).
    shims: true,
  }),
);
