import { defineConfig } from 'vitest/config';
import { packageTests } from '../../tooling/build-preset.js';

export default defineConfig({ test: packageTests({ workers: 3 }) });
