/**
 * Partition drop (SPEC section 10): a purge whose expired changes fill whole partitions drops them
 * without capture waiting for work that grows with their size. Expired month partitions are
 * filled directly with set-based SQL (not through capture, to save time; a purge does not care
 * how rows got there) with `small` and `large` changes, twice: one pair is dropped the way purges
 * did before (DETACH, count, DROP and COMMIT in one transaction, replayed here in SQL), the other
 * by `tl.retention.purge` (detach in one short transaction; count and drop in a second one that
 * holds no lock capture needs). Fixture generation is timed apart and belongs to neither side.
 *
 * Two figures per drop:
 * - wall time: of the purge (or of the one-transaction drop). It still grows with the partition:
 *   counting its rows and unlinking its files at COMMIT take time in proportion to their size.
 * - capture stall: while each drop runs, a probe connection runs single-row captured UPDATEs of an
 *   audited table back to back; the longest one, minus the probe's median without a drop, is how
 *   long capture waited for the drop (DETACH PARTITION holds ACCESS EXCLUSIVE on audit_changes).
 */

import { createThreadline } from '@threadline/core';
import type pg from 'pg';
import { log } from '../db.js';
import { median } from '../stats.js';

export interface DropResult {
  rows: number;
  /** Wall time of the drop (purge, or the one-transaction replay). */
  ms: number;
  /** Longest captured UPDATE while the drop ran, minus the probe's median with no drop. */
  stallMs: number;
  /** Probe statements during the drop. */
  probes: number;
  droppedPartitions: number;
  deletedChanges: number;
}

/** Fill the month `monthsAgo` months back with `rows` changes (10 per transaction). */
async function fill(
  admin: pg.Client,
  monthsAgo: number,
  rows: number,
): Promise<{ cutoff: string; name: string }> {
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
  const { rows: size } = await admin.query<{ mb: number; name: string }>(
    `SELECT (pg_total_relation_size(relid) / 1048576)::int AS mb, name FROM threadline.storage_partitions() WHERE lo = $1`,
    [lo],
  );
  log(
    `partition ${size[0]?.name}: ${rows} changes, ${size[0]?.mb} MB with its indexes, written in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  );
  return { cutoff: hi.toISOString(), name: size[0]!.name };
}

/** Captured single-row UPDATEs back to back on `probe` until `stop()`; their latencies. */
function captureProbe(probe: pg.Client): { stop: () => Promise<number[]> } {
  let running = true;
  const latencies: number[] = [];
  const loop = (async () => {
    for (let i = 0; running; i++) {
      const t0 = performance.now();
      await probe.query('UPDATE items SET v = v + 1 WHERE id = $1', [1 + (i % 10000)]);
      latencies.push(performance.now() - t0);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return latencies;
    },
  };
}

/**
 * Time the drop of one expired partition of `small` and one of `large` changes with each method.
 * The transactions of those changes are deleted by the sweep phase, which is not part of the drop:
 * deleteEmptyTransactions is off here, so the purge is the drop plus two empty phases.
 */
export async function measurePartitionDrop(
  admin: pg.Client,
  db: pg.Pool,
  probe: pg.Client,
  small: number,
  large: number,
): Promise<{
  oneTransaction: { small: DropResult; large: DropResult };
  purge: { small: DropResult; large: DropResult };
}> {
  const tl = createThreadline({
    db,
    retention: { enabled: true, keepDays: 30, sleepMs: 0, deleteEmptyTransactions: false },
  });
  // Oldest month first: each purge's cutoff is its own partition's upper bound, and the
  // one-transaction drops take the two oldest, so the purges never see them.
  const oldLarge = await fill(admin, 16, large);
  const oldSmall = await fill(admin, 15, small);
  const newLarge = await fill(admin, 14, large);
  const newSmall = await fill(admin, 13, small);
  // The probe's latency with no drop running: the stall is measured above it.
  const idle = captureProbe(probe);
  await new Promise((r) => setTimeout(r, 3000));
  const base = median(await idle.stop());
  log(`capture probe with no drop: median ${base.toFixed(2)} ms per captured UPDATE`);
  const timed = async (rows: number, run: () => Promise<{ dropped: number; deleted: number }>) => {
    await admin.query('CHECKPOINT');
    const p = captureProbe(probe);
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    const r = await run();
    const ms = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 200));
    const lat = await p.stop();
    return {
      rows,
      ms,
      stallMs: Math.max(0, Math.max(...lat) - base),
      probes: lat.length,
      droppedPartitions: r.dropped,
      deletedChanges: r.deleted,
    };
  };
  // The drop as purges did it before: one transaction holds ACCESS EXCLUSIVE on audit_changes
  // from DETACH to COMMIT (which unlinks the files).
  const oneTransaction = (name: string) => async () => {
    await admin.query('BEGIN');
    await admin.query(`ALTER TABLE threadline.audit_changes DETACH PARTITION threadline.${name}`);
    const { rows } = await admin.query<{ n: string }>(`SELECT count(*)::text AS n FROM threadline.${name}`);
    await admin.query(`DROP TABLE threadline.${name}`);
    await admin.query('COMMIT');
    return { dropped: 1, deleted: Number(rows[0]!.n) };
  };
  const purge = (cutoff: string) => async () => {
    const r = await tl.retention.purge({ cutoff });
    return { dropped: r.droppedPartitions, deleted: r.deletedChanges };
  };
  // Warm-up (connection, catalog caches, cached plans): a dry run before any timed purge.
  await tl.retention.purge({ cutoff: newLarge.cutoff, dryRun: true });
  // Large before small for each method, as the fixtures are ordered (a purge takes everything older).
  const oneLarge = await timed(large, oneTransaction(oldLarge.name));
  const oneSmall = await timed(small, oneTransaction(oldSmall.name));
  const purgeLarge = await timed(large, purge(newLarge.cutoff));
  const purgeSmall = await timed(small, purge(newSmall.cutoff));
  return {
    oneTransaction: { small: oneSmall, large: oneLarge },
    purge: { small: purgeSmall, large: purgeLarge },
  };
}
