import { basename } from 'node:path';
import type { ThreadlineConfig } from './define-config.js';
import { findConfigFile } from './find-config.js';
import { importConfig } from './import-config.js';
import { type ConfiguredTables, validateConfig } from './validate-config.js';

export interface LoadedConfig {
  /** Absolute path of the file read, or null when none was found (defaults apply). */
  readonly path: string | null;
  readonly config: ThreadlineConfig;
  readonly tables: ConfiguredTables;
}

/** Find, load and validate the config (`--config PATH` or the first default file in `cwd`). */
export async function loadConfig(cwd: string, explicitPath?: string): Promise<LoadedConfig> {
  const path = findConfigFile(cwd, explicitPath);
  if (path === null) return { path: null, config: {}, tables: new Map() };
  const { config, tables } = validateConfig(await importConfig(path), basename(path));
  return { path, config, tables };
}
