/**
 * Retention benchmark (batched purge on the current, unpartitioned layout): single-row capture
 * transactions run by a few clients, measured in interleaved windows without a purge and while
 * a purge deletes an expired backlog; prints throughput kept and statement latency p50/p99 side
 * by side, and the purge's own rate. The backlog is written straight into the audit tables with
 * set-based SQL (its contents do not matter to a purge; generating it through capture would take
 * most of the run). Partition drops are not measured: partitioned storage is not built yet.
 */
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { log } from './db.js';
import { parseOrExit, runOrExit, runWithBenchDb } from './entry.js';
import { parseIntFlags } from './flags.js';
import { num, table } from './print.js';
import { median } from './stats.js';

const USAGE = `Usage: npm run bench:retention -- [flags]

  --backlog N   expired changes to purge (default 5000000)
  --clients N   capture clients (default 4)
  --window S    seconds per measured window (default 5)
  --windows N   windows of each kind, interleaved (default 4)
  --url URL     maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)`;

const FLAGS = {
  backlog: { fallback: 5_000_000, min: 1000 },
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
    const quiet: Awaited<ReturnType<typeof measure>>[] = [];
    const busy: Awaited<ReturnType<typeof measure>>[] = [];
    for (let w = 0; w < o.windows; w++) {
      quiet.push(await measure());
      // A purge runs through the busy window; then it is stopped (marked abandoned: it stops at
      // its next batch) so the next quiet window has none. The backlog outlasts every window.
      const running = purger.retention.purge().catch((error: Error) => {
        if (!/was marked abandoned/.test(error.message)) log(`purge failed: ${error.message}`);
      });
      busy.push(await measure());
      await admin.query(
        `UPDATE threadline.retention_runs SET status = 'abandoned', finished_at = now() WHERE status = 'running'`,
      );
      await running;
    }
    stop = true;
    await Promise.all(workers);
    const { rows } = await admin.query(
      `SELECT sum(deleted_changes)::bigint AS deleted, sum(batches)::int AS batches FROM threadline.retention_runs`,
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
        `\npurge: ${num(Number(rows[0].deleted))} expired changes deleted in ${rows[0].batches} batches, ${num(rate)} changes/s during the busy windows\n`,
    );
    await admin.end();
  });
}

const options = parseOrExit(parseOptions, USAGE);
void runOrExit(() => main(options));
