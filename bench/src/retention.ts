/**
 * Retention benchmark. First, partition drops (retention/partition-drop.ts): how long capture
 * stalls, and the wall time, while an expired month partition of 5M changes is dropped against one
 * of 500k, by a purge and by the one-transaction drop purges used before. Then the batched purge: single-row
 * capture transactions run by a few clients, measured in interleaved windows without a purge and
 * while a purge deletes an expired backlog held by the default partition (rows no range partition
 * takes, the same path as unpartitioned storage and the boundary partition); prints throughput
 * kept and statement latency p50/p99 side by side, and the purge's own rate. Backlogs are written
 * straight into the audit tables with set-based SQL (their contents do not matter to a purge;
 * generating them through capture would take most of the run).
 */
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { log } from './db.js';
import { parseOrExit, runOrExit, runWithBenchDb } from './entry.js';
import { parseIntFlags } from './flags.js';
import { num, table } from './print.js';
import { type DropResult, measurePartitionDrop } from './retention/partition-drop.js';
import { median } from './stats.js';

const USAGE = `Usage: npm run bench:retention -- [flags]

  --backlog N   expired changes to purge in batches (default 5000000)
  --drop-small N, --drop-large N   changes in the two expired partitions dropped (default 500000 and 5000000; 0 skips)
  --clients N   capture clients (default 4)
  --window S    seconds per measured window (default 5)
  --windows N   windows of each kind, interleaved (default 4)
  --url URL     maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)`;

const FLAGS = {
  backlog: { fallback: 5_000_000, min: 1000 },
  'drop-small': { fallback: 500_000, min: 0 },
  'drop-large': { fallback: 5_000_000, min: 0 },
  clients: { fallback: 4, min: 1 },
  window: { fallback: 5, min: 1 },
  windows: { fallback: 4, min: 1 },
} as const;

type Options = Exclude<ReturnType<typeof parseOptions>, 'help'>;

function parseOptions(argv: string[]) {
  return parseIntFlags(argv, FLAGS);
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function main(o: Options): Promise<void> {
  await runWithBenchDb(o.url, async (db) => {
    await db.create();
    const admin = await db.connect('admin', 0);
    const pool = db.pool(o.clients);
    const tl = createThreadline({
      db: pool,
      retention: { enabled: true, keepDays: 30, sleepMs: 50, batchSize: 500 },
    });
    await tl.install();
    await admin.query('CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL)');
    await admin.query('INSERT INTO items SELECT g, 0 FROM generate_series(1, 10000) g');
    await tl.installTriggers({ tables: ['items'] });
    if (o['drop-small'] > 0 && o['drop-large'] > 0) {
      const probe = await db.connect('drop-probe', 0);
      const d = await measurePartitionDrop(admin, db.pool(1), probe, o['drop-small'], o['drop-large']);
      await probe.end();
      const rows = (label: string, m: { small: DropResult; large: DropResult }) =>
        [m.small, m.large].map((r, i) => [
          label,
          i === 0 ? 'small' : 'large',
          num(r.rows),
          num(r.ms, 1),
          num(r.stallMs, 1),
          num(r.probes),
          String(r.droppedPartitions),
          num(r.deletedChanges),
        ]);
      const ratio = (m: { small: DropResult; large: DropResult }, k: 'ms' | 'stallMs') =>
        num(m.large[k] / Math.max(m.small[k], 1), 2);
      process.stdout.write(
        `\nPartition drop: one expired month partition (changes written with set-based SQL); capture stall = longest captured single-row UPDATE on a probe connection during the drop, minus its median with no drop\n\n` +
          table(
            [
              'method',
              'partition',
              'changes',
              'wall ms',
              'capture stall ms',
              'probes',
              'dropped',
              'deleted changes',
            ],
            [
              ...rows('one transaction (before)', d.oneTransaction),
              ...rows('purge (detach, then drop)', d.purge),
            ],
          ) +
          `\ncapture stall ${num(o['drop-large'])} ÷ ${num(o['drop-small'])} (each at least 1 ms): one transaction ${ratio(d.oneTransaction, 'stallMs')}, purge ${ratio(d.purge, 'stallMs')} (target <= 1.5)` +
          `\nwall time ${num(o['drop-large'])} ÷ ${num(o['drop-small'])}: one transaction ${ratio(d.oneTransaction, 'ms')}, purge ${ratio(d.purge, 'ms')} (counting the rows and unlinking the files at COMMIT grow with the partition; capture no longer waits for them)\n`,
      );
    }
    log(`writing an expired backlog of ${o.backlog} changes (10 per transaction)`);
    const started = Date.now();
    await admin.query(`
      INSERT INTO threadline.audit_transactions (txid, occurred_at, actor_ref, correlation_id)
        SELECT g, now() - interval '400 days' + g * interval '1 second', '{"type":"user","id":"7"}', 'old-' || g
          FROM generate_series(1, ${Math.ceil(o.backlog / 10)}) g;
      INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
        SELECT t.id, 'public', 'items', jsonb_build_object('id', g), 'insert', jsonb_build_object('id', g, 'v', 0),
               t.occurred_at + (g % 10) * interval '1 millisecond'
          FROM generate_series(1, ${o.backlog}) g
          JOIN threadline.audit_transactions t ON t.id = 1 + (g - 1) / 10;
      ANALYZE threadline.audit_changes; ANALYZE threadline.audit_transactions;`);
    log(`backlog written in ${((Date.now() - started) / 1000).toFixed(1)} s`);

    let stop = false;
    let latencies: number[] = [];
    let done = 0;
    const client = async (n: number) => {
      let i = n;
      while (!stop) {
        const t0 = performance.now();
        await runWithAuditContext({ actor: ActorRef.user(String(n)), correlationId: `c-${n}-${i}` }, () =>
          tl.transaction((tx) => tx.query('UPDATE items SET v = v + 1 WHERE id = $1', [1 + (i % 10000)])),
        );
        latencies.push(performance.now() - t0);
        done++;
        i += o.clients;
      }
    };
    const workers = Array.from({ length: o.clients }, (_, n) => client(n));
    const measure = async () => {
      latencies = [];
      done = 0;
      await new Promise((r) => setTimeout(r, o.window * 1000));
      return { tps: done / o.window, p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
    };
    await new Promise((r) => setTimeout(r, 2000)); // warm-up
    const purger = createThreadline({
      db: db.pool(1),
      retention: { enabled: true, keepDays: 30, sleepMs: 50, batchSize: 500 },
    });
    const lockWaits: number[] = [];
    const quiet: Awaited<ReturnType<typeof measure>>[] = [];
    const busy: Awaited<ReturnType<typeof measure>>[] = [];
    for (let w = 0; w < o.windows; w++) {
      quiet.push(await measure());
      // A purge runs through the busy window; then it is stopped (marked abandoned: it stops at
      // its next batch) so the next quiet window has none. The backlog outlasts every window.
      const running = purger.retention.purge().catch((error: Error) => {
        if (!/was marked abandoned/.test(error.message)) log(`purge failed: ${error.message}`);
      });
      // Lock waits in this database, sampled every 25 ms while the purge runs (capture only
      // contends with the purge here: the clients update different rows).
      let sampling = true;
      const sampler = (async () => {
        const probe = await db.connect('lock-probe', 0);
        while (sampling) {
          const { rows: w } = await probe.query<{ ms: number | null }>(
            `SELECT (extract(epoch FROM max(clock_timestamp() - query_start)) * 1000)::float8 AS ms
               FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          );
          if (w[0]?.ms != null) lockWaits.push(Number(w[0].ms));
          await new Promise((r) => setTimeout(r, 25));
        }
        await probe.end();
      })();
      busy.push(await measure());
      sampling = false;
      await sampler;
      await admin.query(
        `UPDATE threadline.retention_runs SET status = 'abandoned', finished_at = now() WHERE status = 'running'`,
      );
      await running;
    }
    stop = true;
    await Promise.all(workers);
    const { rows } = await admin.query(
      `SELECT sum(deleted_changes)::bigint AS deleted, sum(batches)::int AS batches FROM threadline.retention_runs WHERE dropped_partitions = 0`,
    );
    const rate = Number(rows[0].deleted) / (o.windows * o.window);
    const q = {
      tps: median(quiet.map((m) => m.tps)),
      p50: median(quiet.map((m) => m.p50)),
      p99: median(quiet.map((m) => m.p99)),
    };
    const b = {
      tps: median(busy.map((m) => m.tps)),
      p50: median(busy.map((m) => m.p50)),
      p99: median(busy.map((m) => m.p99)),
    };
    process.stdout.write(
      `\nBatched purge vs capture: ${o.clients} clients of single-row UPDATE transactions, ${o.windows} × ${o.window} s windows of each kind, interleaved\n\n` +
        table(
          ['windows', 'tps (median)', 'p50 ms', 'p99 ms'],
          [
            ['no purge', num(q.tps), num(q.p50, 2), num(q.p99, 2)],
            ['during a purge', num(b.tps), num(b.p50, 2), num(b.p99, 2)],
          ],
        ) +
        `\nthroughput kept during a purge: ${num(b.tps / q.tps, 2)} (target >= 0.8)` +
        `\np99 latency added during a purge: ${num(b.p99 - q.p99, 1)} ms (target: no capture statement waits > 100 ms on a purge lock)` +
        `\nlock waits seen in pg_stat_activity during purges (sampled every 25 ms): ${lockWaits.length}, longest ${num(lockWaits.length ? Math.max(...lockWaits) : 0, 1)} ms (a wait's age when sampled)` +
        `\npurge: ${num(Number(rows[0].deleted))} expired changes deleted in ${rows[0].batches} batches, ${num(rate)} changes/s during the busy windows\n`,
    );
    await admin.end();
  });
}

const options = parseOrExit(parseOptions, USAGE);
void runOrExit(() => main(options));
