import { defineConfig } from 'vitest/config';
import { packageTests } from '../../tooling/build-preset.js';

// Three files at a time (each creates its own databases and uniquely named roles), and a worker
// runs its files in one process (`isolate: false`) instead of a fresh process per file: each file
// then skips re-importing core and its dependencies and PGlite's WebAssembly is compiled and
// optimised once per worker, not once per file. That halved the suite's CPU time (374 s to 189 s,
// user + system) and took its wall time from 385 s to 298 s under more load. Core's test files
// leave nothing behind that another file could see: every test creates its own database,
// unsubscribes what it subscribed to diagnostics_channel, restores real timers, sets no
// environment variables and mocks no module; src keeps no module-level state keyed by database.
export default defineConfig({ test: packageTests({ workers: 3, isolate: false }) });
