import type { SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { type ArchiveSummary, addPart, archiveBeforeDelete } from './archive.js';
import { deleteArchivedSql } from './archive-sql.js';
import type { BatchPlan, PurgeContext, Totals } from './purge.js';
import { purgeSql } from './purge-sql.js';

const WHERE = 'retention.purge';

/**
 * Phase 1 of a batch: delete the oldest changes; with retention.archive, archive exactly them
 * first (in this transaction: select, write and verify, then delete those keys). Returns the
 * deleted count and the transactions it touched.
 */
export async function deleteOldChanges(
  s: SqlSession,
  ctx: PurgeContext,
  runId: string,
  plan: BatchPlan,
  totals: Totals,
): Promise<{ n: number; txs: string[]; archive?: ArchiveSummary }> {
  const archive = ctx.policy!.archive;
  if (!archive || !totals.archive) {
    const { rows } = await s.query<{ n: number; txs: string[] }>(purgeSql(ctx.q).deleteChanges, [
      plan.cutoff,
      plan.batchSize,
    ]);
    return { n: rows[0]!.n, txs: rows[0]!.txs.map(String) };
  }
  const part = totals.archive.parts + 1;
  const { keys, archived } = await archiveBeforeDelete(s, ctx.q, archive, {
    runId,
    part,
    cutoff: plan.cutoff,
    batchSize: plan.batchSize,
  });
  if (!archived) return { n: 0, txs: [] };
  const { rows } = await s.query<{ n: number; txs: string[] }>(deleteArchivedSql(ctx.q), [keys.at, keys.id]);
  if (rows[0]!.n !== archived.rowCount) {
    throw new ThreadlineError(
      'RETENTION_ARCHIVE_FAILED',
      `${WHERE}: part ${part} archived ${archived.rowCount} changes but ${rows[0]!.n} matched for deletion; the batch was rolled back`,
    );
  }
  const next = { ...totals.archive };
  addPart(next, archived);
  await s.query(purgeSql(ctx.q).setArchive, [runId, JSON.stringify(next)]);
  // The caller keeps it only once the batch commits.
  return { n: rows[0]!.n, txs: rows[0]!.txs.map(String), archive: next };
}
