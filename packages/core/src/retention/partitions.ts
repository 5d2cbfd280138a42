import type { SqlClient, SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { purgeSql } from './purge-sql.js';

/** Partitions a purge drops whole, and the changes in them. */
export interface DroppablePartitions {
  partitions: string[];
  /** Exact (dry runs count every row). */
  changes: number;
}

/** Dry run: the partitions a run would drop and exactly how many changes they hold. */
export async function countDroppable(
  client: SqlClient,
  q: string,
  cutoff: string,
): Promise<DroppablePartitions> {
  const sql = purgeSql(q);
  const { rows } = await client.query<{ rel: string }>(sql.droppable, [cutoff]);
  let changes = 0;
  for (const r of rows) {
    const { rows: n } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${r.rel}`);
    changes += Number(n[0]!.n);
  }
  return { partitions: rows.map((r) => r.rel), changes };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LOCK_RETRIES = 20;

/**
 * Detach and drop every range partition wholly older than the cutoff: constant time whatever its
 * size. The changes it held are counted from the planner's statistics when the partition has
 * them (exact once autovacuum or ANALYZE has seen it), otherwise counted, so the drop never
 * scans a large partition. Each drop is one short transaction under the purge's advisory lock.
 */
export async function dropExpiredPartitions(
  client: SqlClient,
  schema: string,
  q: string,
  runId: string,
  cutoff: string,
): Promise<{ partitions: number; changes: number }> {
  const sql = purgeSql(q);
  await client.query(sql.ensurePartitions);
  const { rows } = await client.query<{ rel: string }>(sql.droppable, [cutoff]);
  const done = { partitions: 0, changes: 0 };
  for (const { rel } of rows) {
    for (let attempt = 1; ; attempt++) {
      try {
        const changes = await client.transaction((s: SqlSession) => dropOne(s, schema, q, runId, rel));
        done.partitions++;
        done.changes += changes;
        break;
      } catch (error) {
        const code = (error as { code?: string }).code;
        // 55P03: lock_timeout (capture or a reader holds audit_changes). Retry a few times, then
        // leave this partition to the batches (its rows are older than the cutoff too).
        if (code !== '55P03') throw error;
        if (attempt >= LOCK_RETRIES) break;
        await sleep(100 * attempt);
      }
    }
  }
  return done;
}

async function dropOne(
  s: SqlSession,
  schema: string,
  q: string,
  runId: string,
  rel: string,
): Promise<number> {
  const sql = purgeSql(q);
  await s.query(sql.lock, [schema]);
  // Counted exactly (the run's record is a compliance record; pg_class.reltuples is stale after
  // writes since the last ANALYZE and once reported a dropped partition's rows 5x wrong).
  const exists = await s.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [rel]);
  if (exists.rows.length === 0) return 0; // dropped meanwhile
  await s.query(sql.dropLockTimeout);
  await s.query(`ALTER TABLE ${q}.audit_changes DETACH PARTITION ${rel}`);
  // Counted once detached: nothing can write into it any more.
  const { rows: n } = await s.query<{ n: string }>(
    `SELECT count(*)::text AS n, ${q}.activity_forget(min(captured_at), max(captured_at))::text AS forgot FROM ${rel}`,
  );
  const changes = Number(n[0]!.n);
  await s.query(`DROP TABLE ${rel}`);
  const beat = await s.query(sql.heartbeat, [runId, Math.round(changes), 0, 0, 0, 1]);
  if (beat.rows.length === 0) {
    throw new ThreadlineError(
      'RETENTION_RUNNING',
      `retention.purge: run #${runId} was marked abandoned by another run while it worked; it stopped`,
    );
  }
  return Math.round(changes);
}
