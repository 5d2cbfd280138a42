import { quoteIdent } from '../capture/identifiers.js';
import { queryReadCommitted, readCommitted } from '../db/read-committed.js';
import type { SqlClient, SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { purgeSql } from './purge-sql.js';

/** Partitions a purge drops whole, and the changes in them. */
export interface DroppablePartitions {
  partitions: string[];
  /** Exact (dry runs count every row). */
  changes: number;
  /** Tables a stopped run detached but did not drop (a run drops them first), and their changes. */
  detached: { tables: number; changes: number };
}

/**
 * A partition the purge detached and has not dropped yet carries this prefix (renamed in the
 * detaching transaction): a run stopped between the two steps leaves it for the next run.
 */
export const DETACHED_PREFIX = 'expired_';

async function countRows(client: SqlClient, rels: { rel: string }[]): Promise<number> {
  let n = 0;
  for (const r of rels) {
    const { rows } = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${r.rel}`);
    n += Number(rows[0]!.n);
  }
  return n;
}

/** Dry run: the tables a stopped run detached but did not drop, and exactly how many changes they hold. */
export async function countDetached(
  client: SqlClient,
  schema: string,
  q: string,
): Promise<DroppablePartitions['detached']> {
  const { rows } = await client.query<{ rel: string }>(purgeSql(q).detachedLeftovers, [
    DETACHED_PREFIX,
    schema,
  ]);
  return { tables: rows.length, changes: await countRows(client, rows) };
}

/** Dry run: the partitions a run would drop and exactly how many changes they hold. */
export async function countDroppable(
  client: SqlClient,
  schema: string,
  q: string,
  cutoff: string,
): Promise<DroppablePartitions> {
  const { rows } = await client.query<{ rel: string }>(purgeSql(q).droppable, [cutoff]);
  return {
    partitions: rows.map((r) => r.rel),
    changes: await countRows(client, rows),
    detached: await countDetached(client, schema, q),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const LOCK_RETRIES = 20;

/**
 * Drop every range partition wholly older than the cutoff in two steps, so capture never waits
 * for work that grows with the partition:
 * 1. detach it (and rename it `expired_…`): DETACH PARTITION holds ACCESS EXCLUSIVE on
 *    audit_changes, so capture waits for this transaction, which only changes the catalogs
 *    (constant time whatever the partition's size);
 * 2. count its rows and drop it: a table nothing writes or reads any more, whose lock no
 *    capture statement needs; the COMMIT of DROP TABLE unlinks its files, which takes time in
 *    proportion to their size (measured by bench:retention), but capture no longer waits for it.
 * A run stopped between the steps leaves the renamed table; the next run drops it (and counts it).
 * Each step is one short transaction under the purge's advisory lock.
 */
export async function dropExpiredPartitions(
  client: SqlClient,
  schema: string,
  q: string,
  runId: string,
  cutoff: string,
): Promise<{ partitions: number; changes: number }> {
  const sql = purgeSql(q);
  await queryReadCommitted(client, sql.ensurePartitions);
  const done = { partitions: 0, changes: 0 };
  const drop = async (rel: string) => {
    done.changes += await readCommitted(client, (s: SqlSession) => dropDetached(s, schema, runId, rel));
    done.partitions++;
  };
  const { rows: leftovers } = await client.query<{ rel: string }>(sql.detachedLeftovers, [
    DETACHED_PREFIX,
    schema,
  ]);
  for (const { rel } of leftovers) await drop(rel);
  const { rows } = await client.query<{ rel: string; name: string }>(sql.droppable, [cutoff]);
  for (const { rel, name } of rows) {
    for (let attempt = 1; ; attempt++) {
      try {
        const detached = await readCommitted(client, (s: SqlSession) =>
          detachOne(s, schema, q, runId, rel, name),
        );
        if (detached) await drop(detached);
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

function abandoned(runId: string): ThreadlineError {
  return new ThreadlineError(
    'RETENTION_RUNNING',
    `retention.purge: run #${runId} was marked abandoned by another run while it worked; it stopped`,
  );
}

/** Step 1: detach and rename; returns the detached table, or null when it was dropped meanwhile. */
async function detachOne(
  s: SqlSession,
  schema: string,
  q: string,
  runId: string,
  rel: string,
  name: string,
): Promise<string | null> {
  const sql = purgeSql(q);
  await s.query(sql.lock, [schema]);
  const exists = await s.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [rel]);
  if (exists.rows.length === 0) return null; // dropped meanwhile
  const beat = await s.query(sql.heartbeat, [runId, 0, 0, 0, 0, 0]);
  if (beat.rows.length === 0) throw abandoned(runId);
  // Once detached, its rows are out of audit_changes: the activity rollup forgets the partition's
  // range in this same transaction, so a run stopped before step 2 leaves no chart counting them.
  // The bounds come from the catalog (constant time). Before DETACH: the rollup's lock is taken
  // before audit_changes', the order activity_refresh takes them in.
  await s.query(
    `SELECT ${q}.activity_forget(p.lo, p.hi) FROM ${q}.storage_partitions() p WHERE p.relid = to_regclass($1)`,
    [rel],
  );
  await s.query(sql.dropLockTimeout);
  await s.query(`ALTER TABLE ${q}.audit_changes DETACH PARTITION ${rel}`);
  const renamed = (DETACHED_PREFIX + name).slice(0, 63);
  await s.query(`ALTER TABLE ${rel} RENAME TO ${quoteIdent(renamed)}`);
  return `${q}.${quoteIdent(renamed)}`;
}

/**
 * Step 2: count the detached table's rows (exactly: the run's record is a compliance record), make
 * the activity rollup forget them, and drop it.
 */
async function dropDetached(s: SqlSession, schema: string, runId: string, rel: string): Promise<number> {
  const q = quoteIdent(schema);
  const sql = purgeSql(q);
  await s.query(sql.lock, [schema]);
  const exists = await s.query(`SELECT 1 FROM pg_class WHERE oid = to_regclass($1)`, [rel]);
  if (exists.rows.length === 0) return 0; // dropped meanwhile
  const { rows: n } = await s.query<{ n: string }>(
    `SELECT count(*)::text AS n, ${q}.activity_forget(min(captured_at), max(captured_at))::text AS forgot FROM ${rel}`,
  );
  const changes = Number(n[0]!.n);
  await s.query(`DROP TABLE ${rel}`);
  const beat = await s.query(sql.heartbeat, [runId, changes, 0, 0, 0, 1]);
  if (beat.rows.length === 0) throw abandoned(runId);
  return changes;
}
