import { defineConfig } from 'tsup';

// @swc/core is a devDependency on purpose: with it installed, tsup compiles decorators through
// SWC and emits decorator metadata (design:paramtypes), which esbuild alone drops.
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'node20',
});
