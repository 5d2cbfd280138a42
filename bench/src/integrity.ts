/**
 * Tamper-evidence benchmark: seal and verify throughput (rows/s) on a backlog of audit changes,
 * and capture throughput kept while a seal runs, side by side in one run. The backlog is written
 * straight into the audit tables with set-based SQL (its contents do not matter to sealing;
 * generating it through capture would take most of the run). Seal repetitions start from an
 * empty chain (the seal table is truncated first, outside the measurement).
 */
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { log } from './db.js';
import { parseOrExit, runOrExit, runWithBenchDb } from './entry.js';
import { parseIntFlags } from './flags.js';
import { num, table } from './print.js';
import { median } from './stats.js';

const USAGE = `Usage: npm run bench:integrity -- [flags]

  --backlog N   audit changes to seal and verify (default 1000000; 10 per transaction)
  --reps N      repetitions of the seal and of the verify (default 3)
  --clients N   capture clients (default 4)
  --window S    seconds per capture window (default 5)
  --windows N   capture windows of each kind, interleaved (default 4)
  --url URL     maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)`;

const FLAGS = {
  backlog: { fallback: 1_000_000, min: 1000 },
  reps: { fallback: 3, min: 1 },
  clients: { fallback: 4, min: 1 },
  window: { fallback: 5, min: 1 },
  windows: { fallback: 4, min: 1 },
} as const;

type Options = Exclude<ReturnType<typeof parseIntFlags<keyof typeof FLAGS>>, 'help'>;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

class Stop extends Error {}

async function main(o: Options): Promise<void> {
  await runWithBenchDb(o.url, async (db) => {
    await db.create();
    const admin = await db.connect('admin', 0);
    const pool = db.pool(o.clients);
    const tl = createThreadline({ db: pool });
    await tl.install();
    await admin.query('CREATE TABLE items (id bigint PRIMARY KEY, v int NOT NULL)');
    await admin.query('INSERT INTO items SELECT g, 0 FROM generate_series(1, 10000) g');
    await tl.installTriggers({ tables: ['items'] });
    log(`writing a backlog of ${o.backlog} changes (10 per transaction)`);
    const started = Date.now();
    await admin.query(`
      INSERT INTO threadline.audit_transactions (txid, occurred_at, actor_ref, correlation_id)
        SELECT g, now() - interval '1 day' + g * interval '1 millisecond', '{"type":"user","id":"7"}', 'c-' || g
          FROM generate_series(1, ${Math.ceil(o.backlog / 10)}) g;
      INSERT INTO threadline.audit_changes (transaction_id, table_schema, table_name, table_pk, op, data_after, data_before, changed_fields, changed_from, captured_at)
        SELECT 1 + (g - 1) / 10, 'public', 'items', jsonb_build_object('id', g), 'update',
               jsonb_build_object('id', g, 'v', g % 97, 'note', 'row ' || g), NULL, ARRAY['v'], jsonb_build_object('v', 0),
               now() - interval '1 day' + g * interval '100 microseconds'
          FROM generate_series(1, ${o.backlog}) g;`);
    await admin.query('VACUUM ANALYZE threadline.audit_changes');
    await admin.query('VACUUM ANALYZE threadline.audit_transactions');
    log(`backlog written in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const rows = o.backlog + Math.ceil(o.backlog / 10);

    const sealer = createThreadline({ db: db.pool(1) });
    const sealRates: number[] = [];
    const verifyRates: number[] = [];
    for (let r = 0; r < o.reps; r++) {
      await admin.query('TRUNCATE threadline.integrity_seals, threadline.integrity_verifications');
      let t0 = performance.now();
      const sealed = await sealer.integrity.seal({ waitMs: 120_000 });
      sealRates.push(sealed.sealedRows / ((performance.now() - t0) / 1000));
      if (sealed.sealedRows !== rows) throw new Error(`sealed ${sealed.sealedRows} rows, expected ${rows}`);
      t0 = performance.now();
      const verified = await sealer.integrity.verify();
      verifyRates.push(verified.rowsChecked / ((performance.now() - t0) / 1000));
      if (!verified.ok || verified.rowsChecked !== rows)
        throw new Error('verify did not check every row clean');
      log(`rep ${r + 1}: seal ${num(sealRates.at(-1)!)} rows/s, verify ${num(verifyRates.at(-1)!)} rows/s`);
    }
    const size = await admin.query(
      `SELECT pg_total_relation_size('threadline.integrity_seals') AS seals, pg_relation_size('threadline.audit_changes_id_brin') AS brin`,
    );

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
    const quiet: Awaited<ReturnType<typeof measure>>[] = [];
    const busy: Awaited<ReturnType<typeof measure>>[] = [];
    for (let w = 0; w < o.windows; w++) {
      quiet.push(await measure());
      // A seal of the whole backlog (chain emptied first) runs through the busy window and is
      // stopped at its next link when the window ends, so the next quiet window has none.
      await admin.query('TRUNCATE threadline.integrity_seals');
      let halt = false;
      const running = sealer.integrity
        .seal({
          chunkSize: 10_000,
          onLink: () => {
            if (halt) throw new Stop('window over');
          },
        })
        .catch((error: Error) => {
          if (!(error instanceof Stop)) log(`seal failed: ${error.message}`);
        });
      busy.push(await measure());
      halt = true;
      await running;
    }
    stop = true;
    await Promise.all(workers);
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
      `\nSeal and verify of ${num(o.backlog)} changes + ${num(Math.ceil(o.backlog / 10))} transactions (${o.reps} reps, median; capture idle)\n\n` +
        table(
          ['operation', 'rows/s (median)', 'min', 'max'],
          [
            ['seal', num(median(sealRates)), num(Math.min(...sealRates)), num(Math.max(...sealRates))],
            [
              'verify',
              num(median(verifyRates)),
              num(Math.min(...verifyRates)),
              num(Math.max(...verifyRates)),
            ],
          ],
        ) +
        `\nseal storage: ${num(Number(size.rows[0].seals) / rows, 1)} bytes per sealed row; BRIN index on audit_changes(id): ${num(Number(size.rows[0].brin) / 1024)} KiB\n` +
        `\nSeal vs capture: ${o.clients} clients of single-row UPDATE transactions, ${o.windows} × ${o.window} s windows of each kind, interleaved\n\n` +
        table(
          ['windows', 'tps (median)', 'p50 ms', 'p99 ms'],
          [
            ['no seal', num(q.tps), num(q.p50, 2), num(q.p99, 2)],
            ['during a seal', num(b.tps), num(b.p50, 2), num(b.p99, 2)],
          ],
        ) +
        `\ncapture throughput kept during a seal: ${num(b.tps / q.tps, 2)}\n`,
    );
    await admin.end();
  });
}

const options = parseOrExit((argv) => parseIntFlags(argv, FLAGS), USAGE);
void runOrExit(() => main(options));
