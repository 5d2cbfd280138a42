import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { ThreadlineError } from '@threadline/core';

/** Read a config file: JSON is parsed, anything else is imported (TypeScript through jiti). */
export async function importConfig(path: string): Promise<unknown> {
  const name = basename(path);
  if (path.endsWith('.json')) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (error) {
      throw new ThreadlineError('CONFIG_INVALID', `${name}: cannot read it (${(error as Error).message})`, {
        cause: error,
      });
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ThreadlineError('CONFIG_INVALID', `${name} is not valid JSON: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  const { createJiti } = await import('jiti');
  const jiti = createJiti(path, { fsCache: false, moduleCache: false, interopDefault: true });
  try {
    return await jiti.import(path, { default: true });
  } catch (error) {
    const message = String((error as Error)?.message ?? error).split('\nRequire stack:')[0];
    throw new ThreadlineError('CONFIG_INVALID', `${name} could not be loaded: ${message}`, { cause: error });
  }
}
