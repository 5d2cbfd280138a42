import {
  isThreadlineError,
  resolveHealthConfig,
  resolveVerifyCoverageConfig,
  ThreadlineError,
} from '@threadline/core';
import { resolveRetentionPolicy, resolveStorageConfig, resolveTablesConfig } from '@threadline/core/internal';
import type { ThreadlineConfig } from './define-config.js';

const CONFIG_KEYS = ['schema', 'tables', 'health', 'verifyCoverage', 'retention', 'storage'] as const;
const OBJECT_KEYS = ['health', 'verifyCoverage', 'retention', 'storage'] as const;

export type ConfiguredTables = ReturnType<typeof resolveTablesConfig>;

export interface ValidConfig {
  readonly config: ThreadlineConfig;
  /** The `tables` map, validated and keyed by exact schema and name. */
  readonly tables: ConfiguredTables;
}

/** Check a loaded config; every message starts with `source` (the file name). */
export function validateConfig(value: unknown, source: string): ValidConfig {
  const fail = (message: string): never => {
    throw new ThreadlineError('CONFIG_INVALID', `${source}: ${message}`);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    fail('must export an object, e.g. export default defineConfig({ tables: { posts: {} } })');
  }
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!(CONFIG_KEYS as readonly string[]).includes(key)) {
      fail(`unknown key "${key.slice(0, 40)}"; the known keys are ${CONFIG_KEYS.join(', ')}`);
    }
  }
  if (input.schema !== undefined) {
    const schema = input.schema;
    if (typeof schema !== 'string' || schema.trim() === '')
      fail('schema must be a non-empty string, e.g. "threadline"');
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what is rejected
    if (/\u0000/.test(schema as string)) fail('schema must not contain NUL bytes');
    if (Buffer.byteLength(schema as string) > 63)
      fail('schema must be at most 63 bytes (PostgreSQL would truncate it)');
  }
  for (const key of OBJECT_KEYS) {
    const v = input[key];
    if (v !== undefined && (typeof v !== 'object' || v === null || Array.isArray(v)))
      fail(`${key} must be an object`);
  }
  let tables: ConfiguredTables;
  try {
    tables = resolveTablesConfig(input.tables);
    resolveHealthConfig(input.health, 'health');
    if (input.verifyCoverage !== undefined)
      resolveVerifyCoverageConfig(input.verifyCoverage, 'verifyCoverage');
    if (input.retention !== undefined) resolveRetentionPolicy(input.retention);
    resolveStorageConfig(input.storage);
  } catch (error) {
    if (!isThreadlineError(error)) throw error;
    throw new ThreadlineError(error.code, `${source}: ${error.message}`, { cause: error });
  }
  return { config: input as ThreadlineConfig, tables };
}
