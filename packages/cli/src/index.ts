export {
  defineConfig,
  type HealthConfig,
  type RetentionConfig,
  type ThreadlineConfig,
  type VerifyCoverageConfig,
} from './config/define-config.js';
export { type LoadedConfig, loadConfig } from './config/load-config.js';
export { ExitCode } from './exit-codes.js';
export { colorEnabled, type FormatTableOptions, formatTable, type TableColumn } from './format-table.js';
export type { CliIo, OutputStream } from './io.js';
export { main } from './main.js';
