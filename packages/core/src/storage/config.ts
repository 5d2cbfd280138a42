import { ThreadlineError } from '../errors.js';
import { DEFAULT_PARTITION, PARTITION_UNITS, type PartitionUnit } from '../install/install-script.js';
import { describeValue } from '../safe-text.js';

/** `storage` in createThreadline options and threadline.config (SPEC section 10). */
export interface StorageConfig {
  /** Range partitions of audit_changes by captured_at; default `month` (docs/operations.md#storage). */
  partition?: PartitionUnit;
}

export interface ResolvedStorageConfig {
  partition: PartitionUnit;
}

/** Validate the storage config; a typo is an error naming the key. */
export function resolveStorageConfig(input: unknown): ResolvedStorageConfig {
  if (input === undefined) return { partition: DEFAULT_PARTITION };
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new ThreadlineError('CONFIG_INVALID', "storage must be an object like { partition: 'month' }");
  }
  for (const key of Object.keys(input)) {
    if (key !== 'partition') {
      throw new ThreadlineError('CONFIG_INVALID', `storage: unknown key "${key}"; the only key is partition`);
    }
  }
  const partition = (input as StorageConfig).partition ?? DEFAULT_PARTITION;
  if (!PARTITION_UNITS.includes(partition)) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `storage.partition must be one of ${PARTITION_UNITS.map((u) => `'${u}'`).join(', ')}, got ${describeValue(partition)}`,
    );
  }
  return { partition };
}
