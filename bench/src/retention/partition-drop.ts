/**
 * Partition drop (SPEC section 10): a purge whose expired changes fill whole partitions drops them
 * in constant time. Two expired month partitions are filled directly with set-based SQL (not
 * through capture, to save time; a purge does not care how rows got there): `small` and `large`
 * changes. Each is then purged on its own (cutoff = its upper bound), small and large alternating
 * as far as the fixtures allow, and the purge's wall time compared. Fixture generation is timed
 * apart and belongs to neither side.
 */

import { createThreadline } from '@threadline/core';
import type pg from 'pg';
import { log } from '../db.js';

export interface DropResult {
  rows: number;
  ms: number;
  droppedPartitions: number;
  deletedChanges: number;
}

/** Fill the month `monthsAgo` months back with `rows` changes (10 per transaction). */
async function fill(admin: pg.Client, monthsAgo: number, rows: number): Promise<{ cutoff: string }> {
  const { rows: p } = await admin.query<{ lo: Date; hi: Date }>(
    `SELECT lo, hi FROM threadline.storage_period('month', now() - make_interval(months => $1))`,
    [monthsAgo],
  );
  const { lo, hi } = p[0]!;
  await admin.query(`SELECT threadline.storage_create_partition($1::timestamptz, true)`, [lo]);
  const started = Date.now();
  const { rows: t } = await admin.query<{ first: string }>(
    `WITH ins AS (
       INSERT INTO threadline.audit_transactions (txid, occurred_at, actor_ref)
       SELECT g, $1::timestamptz + interval '1 hour', '{"type":"user","id":"7"}' FROM generate_series(1, $2::int) g
       RETURNING id)
     SELECT min(id)::text AS first FROM ins`,
    [lo, Math.ceil(rows / 10)],
  );
  await admin.query(
    `INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
     SELECT $1::bigint + (g - 1) / 10, 'public', 'items', jsonb_build_object('id', g), 'insert',
            jsonb_build_object('id', g, 'v', 0), $2::timestamptz + (g % 1000000) * interval '1 second'
       FROM generate_series(1, $3::int) g`,
    [t[0]!.first, lo, rows],
  );
  await admin.query('VACUUM ANALYZE threadline.audit_changes');
  const { rows: size } = await admin.query<{ mb: number }>(
    `SELECT (pg_total_relation_size(relid) / 1048576)::int AS mb FROM threadline.storage_partitions() WHERE lo = $1`,
    [lo],
  );
  log(`partition of ${rows} changes: ${size[0]?.mb} MB with its indexes`);
  log(
    `partition drop fixture: ${rows} changes in the month from ${lo.toISOString()} written in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { cutoff: hi.toISOString() };
}

/**
 * Time a purge that drops one expired partition of `small` and one of `large` changes. The
 * transactions of those changes are deleted by the sweep phase, which is not part of the drop:
 * deleteEmptyTransactions is off here, so the purge is the drop plus two empty phases.
 */
export async function measurePartitionDrop(
  admin: pg.Client,
  db: pg.Pool,
  small: number,
  large: number,
): Promise<{ small: DropResult; large: DropResult }> {
  const tl = createThreadline({
    db,
    retention: { enabled: true, keepDays: 30, sleepMs: 0, deleteEmptyTransactions: false },
  });
  // Oldest month first: each purge's cutoff is its own partition's upper bound.
  const a = await fill(admin, 14, large);
  const b = await fill(admin, 13, small);
  const time = async (cutoff: string, rows: number): Promise<DropResult> => {
    const t0 = performance.now();
    const r = await tl.retention.purge({ cutoff });
    return {
      rows,
      ms: performance.now() - t0,
      droppedPartitions: r.droppedPartitions,
      deletedChanges: r.deletedChanges,
    };
  };
  // Warm-up (connection, catalog caches, cached plans): a dry run before either timed purge.
  await tl.retention.purge({ cutoff: a.cutoff, dryRun: true });
  await admin.query('CHECKPOINT');
  const largeResult = await time(a.cutoff, large);
  await admin.query('CHECKPOINT');
  const smallResult = await time(b.cutoff, small);
  return { small: smallResult, large: largeResult };
}
