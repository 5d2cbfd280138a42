import { defineConfig } from 'tsup';
import { packageBuild } from '../../tooling/build-preset.js';

export default defineConfig(packageBuild(['src/index.ts']));
