import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ThreadlineError } from '@threadline/core';

/** Looked for in the working directory, first found wins. */
const CONFIG_FILE_NAMES = [
  'threadline.config.ts',
  'threadline.config.mjs',
  'threadline.config.js',
  'threadline.config.json',
];

/**
 * The config file to load: `--config PATH` (which must exist), else the first default name in
 * `cwd`, else null (run with defaults).
 */
export function findConfigFile(cwd: string, explicit: string | undefined): string | null {
  if (explicit !== undefined) {
    const path = resolve(cwd, explicit);
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw new ThreadlineError('CONFIG_INVALID', `--config ${explicit}: no such file (looked for ${path})`);
    }
    return path;
  }
  for (const name of CONFIG_FILE_NAMES) {
    const path = resolve(cwd, name);
    if (existsSync(path)) return path;
  }
  return null;
}
