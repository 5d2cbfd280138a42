import { readCommitted } from '../db/read-committed.js';
import type { SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { addPart, archiveBeforeDelete } from './archive.js';
import { DETACHED_PREFIX } from './partitions.js';
import type { PurgeContext, Totals } from './purge.js';
import { purgeSql } from './purge-sql.js';

const WHERE = 'retention.purge';

/**
 * With retention.archive: the tables a run stopped between detach and drop left behind
 * (`expired_…`, out of audit_changes already) are archived in batches of `batchSize`, each batch's
 * rows deleted once written, then the empty table is dropped. Every row goes, whatever this run's
 * cutoff (a run without an archive drops them whole too). Counted in `totals` (changes,
 * partitions, archive), not as batches: like a partition drop, this does not spend maxBatches.
 */
export async function archiveLeftovers(
  ctx: PurgeContext,
  runId: string,
  cutoff: string,
  batchSize: number,
  totals: Totals,
): Promise<void> {
  const archive = ctx.policy!.archive!;
  const sql = purgeSql(ctx.q);
  const { rows: leftovers } = await ctx.client.query<{ rel: string }>(sql.detachedLeftovers, [
    DETACHED_PREFIX,
    ctx.schema,
  ]);
  for (const { rel } of leftovers) {
    for (;;) {
      const got = await readCommitted(ctx.client, async (s: SqlSession) => {
        await s.query(sql.lock, [ctx.schema]);
        const exists = await s.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [rel]);
        if (exists.rows.length === 0) return { done: true, dropped: 0, changes: 0 }; // dropped meanwhile
        const part = totals.archive!.parts + 1;
        const { keys, archived } = await archiveBeforeDelete(s, ctx.q, archive, {
          runId,
          part,
          cutoff,
          batchSize,
          source: rel,
          before: 'infinity',
        });
        if (!archived) {
          await s.query(`DROP TABLE ${rel}`);
          await beat(s, sql.heartbeat, [runId, 0, 0, 0, 0, 1]);
          return { done: true, dropped: 1, changes: 0 };
        }
        const { rows } = await s.query<{ n: number }>(
          `WITH gone AS (
             DELETE FROM ${rel} c USING unnest($1::timestamptz[], $2::bigint[]) AS d(at, id)
              WHERE c.captured_at = d.at AND c.id = d.id RETURNING c.captured_at)
           SELECT count(*)::int AS n, ${ctx.q}.activity_forget(min(captured_at), max(captured_at))::text AS forgot FROM gone`,
          [keys.at, keys.id],
        );
        if (rows[0]!.n !== archived.rowCount) {
          throw new ThreadlineError(
            'RETENTION_ARCHIVE_FAILED',
            `${WHERE}: part ${part} archived ${archived.rowCount} changes of ${rel} but ${rows[0]!.n} matched for deletion; the batch was rolled back`,
          );
        }
        const next = { ...totals.archive! };
        addPart(next, archived);
        await s.query(sql.setArchive, [runId, JSON.stringify(next)]);
        await beat(s, sql.heartbeat, [runId, rows[0]!.n, 0, 0, 0, 0]);
        return { done: false, dropped: 0, changes: rows[0]!.n, archive: next };
      });
      // Kept only once the batch committed.
      if (got.archive) totals.archive = got.archive;
      totals.changes += got.changes;
      totals.partitions += got.dropped;
      if (got.done) break;
    }
  }
}

async function beat(s: SqlSession, heartbeat: string, params: unknown[]): Promise<void> {
  const { rows } = await s.query(heartbeat, params);
  if (rows.length === 0) {
    throw new ThreadlineError(
      'RETENTION_RUNNING',
      `${WHERE}: run #${String(params[0])} was marked abandoned by another run while it worked; it stopped`,
    );
  }
}
