import { ThreadlineError } from '../errors.js';
import { describeValue } from '../safe-text.js';
import { type ResolvedArchive, type RetentionArchive, resolveArchive } from './archive-policy.js';

/** The retention policy (config `retention`). Exactly one window: keepDays or maxAgeSeconds. */
export interface RetentionPolicy {
  enabled: boolean;
  keepDays?: number;
  maxAgeSeconds?: number;
  /** Changes deleted per batch (default 500). */
  batchSize?: number;
  /** Batches per run at most (default 10000). */
  maxBatches?: number;
  /** Pause between batches, so capture keeps the disk and the locks (default 50 ms). */
  sleepMs?: number;
  /** Also delete transactions left with no change, and actions linked only to them (default true). */
  deleteEmptyTransactions?: boolean;
  /** Write every batch of changes somewhere before deleting it (see docs/operations.md). */
  archive?: RetentionArchive;
}

export interface ResolvedRetentionPolicy {
  enabled: boolean;
  /** The window in seconds. */
  windowSeconds: number;
  batchSize: number;
  maxBatches: number;
  sleepMs: number;
  deleteEmptyTransactions: boolean;
  /** Where purged changes are archived first; null: they are not. */
  archive: ResolvedArchive | null;
}

const KEYS = [
  'enabled',
  'keepDays',
  'maxAgeSeconds',
  'batchSize',
  'maxBatches',
  'sleepMs',
  'deleteEmptyTransactions',
  'archive',
];
const WHERE = 'retention';

function positiveInt(value: unknown, key: string, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}.${key} must be a whole number from 1 to ${max}, got ${describeValue(value)}`,
    );
  }
  return value;
}

/** Validate a retention policy; every problem names the key and the fix. */
export function resolveRetentionPolicy(value: unknown): ResolvedRetentionPolicy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE} must be an object like { enabled: true, keepDays: 365 }`,
    );
  }
  const input = value as Record<string, unknown>;
  for (const key of Object.keys(input)) {
    if (!KEYS.includes(key)) {
      throw new ThreadlineError(
        'CONFIG_INVALID',
        `${WHERE}: unknown key "${key.slice(0, 40)}"; the known keys are ${KEYS.join(', ')}`,
      );
    }
  }
  if (typeof input.enabled !== 'boolean') {
    throw new ThreadlineError('CONFIG_INVALID', `${WHERE}.enabled must be true or false`);
  }
  const hasDays = input.keepDays !== undefined;
  const hasSeconds = input.maxAgeSeconds !== undefined;
  if (hasDays === hasSeconds) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}: give exactly one window, keepDays (e.g. 365) or maxAgeSeconds, not ${hasDays ? 'both' : 'neither'}`,
    );
  }
  const windowSeconds = hasDays
    ? positiveInt(input.keepDays, 'keepDays', 36_500) * 86_400
    : positiveInt(input.maxAgeSeconds, 'maxAgeSeconds', 36_500 * 86_400);
  if (input.deleteEmptyTransactions !== undefined && typeof input.deleteEmptyTransactions !== 'boolean') {
    throw new ThreadlineError('CONFIG_INVALID', `${WHERE}.deleteEmptyTransactions must be true or false`);
  }
  return {
    enabled: input.enabled,
    windowSeconds,
    batchSize: input.batchSize === undefined ? 500 : positiveInt(input.batchSize, 'batchSize', 100_000),
    maxBatches:
      input.maxBatches === undefined ? 10_000 : positiveInt(input.maxBatches, 'maxBatches', 10_000_000),
    sleepMs:
      input.sleepMs === undefined
        ? 50
        : input.sleepMs === 0
          ? 0
          : positiveInt(input.sleepMs, 'sleepMs', 60_000),
    deleteEmptyTransactions: input.deleteEmptyTransactions !== false,
    archive: resolveArchive(input.archive),
  };
}
