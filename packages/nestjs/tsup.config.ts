import { defineConfig } from 'tsup';
import { packageBuild } from '../../tooling/build-preset.js';

// @swc/core is a devDependency on purpose: with it installed, tsup compiles decorators through
// SWC and emits decorator metadata (design:paramtypes), which esbuild alone drops.
export default defineConfig(packageBuild(['src/index.ts']));
