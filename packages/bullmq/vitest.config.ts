import { defineConfig } from 'vitest/config';
import { POSTGRES_SETUP, packageTests, REDIS_SETUP } from '../../tooling/build-preset.js';

export default defineConfig({ test: packageTests({ globalSetup: [POSTGRES_SETUP, REDIS_SETUP] }) });
