import { ThreadlineError } from '../errors.js';
import { describeValue } from '../safe-text.js';

/** One batch handed to an archive callback: the change rows a purge is about to delete. */
export interface ArchiveBatch {
  runId: string;
  /** 1-based, per run. */
  part: number;
  /** ISO 8601 (UTC): the run's cutoff. */
  cutoff: string;
  /** One JSON object (the export file format's columns, written by PostgreSQL) per change. */
  records: string[];
  rowCount: number;
}

/**
 * `retention.archive`: where a purge writes what it deletes, before it deletes it. A directory
 * (gzip NDJSON parts with a manifest each) or a callback that must resolve only once the batch is
 * durably stored (a rejection aborts the batch; nothing is deleted).
 */
export type RetentionArchive = { dir: string; format?: 'ndjson' } | ((batch: ArchiveBatch) => Promise<void>);

export type ResolvedArchive =
  | { kind: 'dir'; dir: string; format: 'ndjson' }
  | { kind: 'callback'; write: (batch: ArchiveBatch) => Promise<void> };

const WHERE = 'retention.archive';
const KEYS = ['dir', 'format'];

/** Validate `retention.archive`; every problem names the key and the fix. */
export function resolveArchive(value: unknown): ResolvedArchive | null {
  if (value === undefined) return null;
  if (typeof value === 'function') {
    return { kind: 'callback', write: value as (batch: ArchiveBatch) => Promise<void> };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE} must be { dir: './audit-archive' } or an async function (batch) => { … }`,
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
  if (typeof input.dir !== 'string' || input.dir.trim() === '' || input.dir.includes('\0')) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}.dir must be a directory path (a non-empty string), got ${describeValue(input.dir)}`,
    );
  }
  if (input.format !== undefined && input.format !== 'ndjson') {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${WHERE}.format must be 'ndjson' (gzip NDJSON, the only archive format), got ${describeValue(input.format)}`,
    );
  }
  return { kind: 'dir', dir: input.dir, format: 'ndjson' };
}
