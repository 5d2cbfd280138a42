import type { ActorRef } from '../context/actor-ref.js';
import { toThreadlineError } from '../db/db-errors.js';
import type { SqlClient } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { checkKeys } from '../query/validate.js';
import type { ArchiveSummary } from './archive.js';
import { purgeSql } from './purge-sql.js';

export interface RetentionRun {
  id: string;
  startedAt: string;
  finishedAt: string | null;
  status: 'running' | 'completed' | 'failed' | 'abandoned';
  cutoff: string;
  dryRun: boolean;
  deletedChanges: number;
  deletedTransactions: number;
  deletedActions: number;
  droppedPartitions: number;
  batches: number;
  error: string | null;
  actor: ActorRef | null;
  /** What retention.archive wrote in this run; null when it archived nothing. */
  archive: ArchiveSummary | null;
}

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());

/** Retention runs, newest first. */
export async function listRuns(
  client: SqlClient,
  q: string,
  options: { limit?: number } = {},
): Promise<RetentionRun[]> {
  const limit = (checkKeys(options, ['limit'], 'retention.runs options') as { limit?: number }).limit ?? 20;
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
    throw new ThreadlineError('QUERY_INVALID', 'retention.runs: limit must be a whole number from 1 to 1000');
  }
  try {
    const { rows } = await client.query<Record<string, unknown>>(purgeSql(q).runs, [limit]);
    return rows.map((r) => ({
      id: String(r.id),
      startedAt: iso(r.started_at)!,
      finishedAt: iso(r.finished_at),
      status: r.status as RetentionRun['status'],
      cutoff: iso(r.cutoff)!,
      dryRun: r.dry_run === true,
      deletedChanges: Number(r.deleted_changes),
      deletedTransactions: Number(r.deleted_transactions),
      deletedActions: Number(r.deleted_actions),
      droppedPartitions: Number(r.dropped_partitions),
      batches: Number(r.batches),
      error: (r.error as string | null) ?? null,
      actor: (typeof r.actor_ref === 'string' ? JSON.parse(r.actor_ref) : r.actor_ref) as ActorRef | null,
      archive: ((typeof r.archive === 'string' ? JSON.parse(r.archive) : r.archive) ??
        null) as ArchiveSummary | null,
    }));
  } catch (error) {
    throw toThreadlineError(error, 'retention.runs');
  }
}
