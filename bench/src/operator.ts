/**
 * Operator surface benchmark: latency (p50/p95) and server CPU per render of the timeline page
 * and the transaction page on audit tables holding 10k and 1M changes, side by side in one run
 * (interleaved), and the compressed page weight of the timeline page next to its JSON API
 * response. The surface is called in-process through its Web handler (`surface.fetch`), so the
 * latency is rendering plus the queries; no HTTP stack or browser is in the figures.
 */

import { gzipSync } from 'node:zlib';
import { type ActivityFilters, ActorRef, createThreadline } from '@threadline/core';
import { createOperatorSurface, type OperatorSurface } from '@threadline/operator';
import { type BenchDb, log } from './db.js';
import { parseOrExit, runOrExit, runWithBenchDb } from './entry.js';
import { type BulkDataset, loadBulkDataset } from './fixtures/bulk-audit.js';
import { parseIntFlags } from './flags.js';
import { num, table } from './print.js';

const USAGE = `Usage: npm run bench:operator -- [flags]

  --small N   changes in the small dataset (default 10000)
  --large N   changes in the large dataset (default 1000000)
  --reps N    timed renders of every page on each dataset (default 200)
  --seed N    changes captured through real capture per dataset before the set-based copies
              (default 20000; see src/fixtures/bulk-audit.ts)
  --url URL   maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres)`;

const FLAGS = {
  small: { fallback: 10_000, min: 1000 },
  large: { fallback: 1_000_000, min: 1000 },
  reps: { fallback: 200, min: 10 },
  seed: { fallback: 20_000, min: 1000 },
} as const;

type Options = Exclude<ReturnType<typeof parseOptions>, 'help'>;

function parseOptions(argv: string[]) {
  return parseIntFlags(argv, FLAGS);
}

interface Target {
  dataset: BulkDataset;
  surface: OperatorSurface;
  transactionId: string;
}

interface Sample {
  ms: number[];
  cpuUs: number[];
}

const PAGES = ['timeline', 'transaction'] as const;

function pathOf(page: (typeof PAGES)[number], t: Target): string {
  return page === 'timeline' ? '/audit/timeline' : `/audit/transaction?id=${t.transactionId}`;
}

async function render(
  surface: OperatorSurface,
  path: string,
): Promise<{ ms: number; cpuUs: number; body: string }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const res = await surface.fetch(new Request(`http://bench${path}`));
  const body = await res.text();
  const ms = performance.now() - start;
  const used = process.cpuUsage(cpu);
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${body.slice(0, 300)}`);
  return { ms, cpuUs: used.user + used.system, body };
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(options: Options): Promise<void> {
  await runWithBenchDb(options.url, async (db) => {
    await db.create();
    const targets: Target[] = [];
    for (const [label, size] of [
      ['small', options.small],
      ['large', options.large],
    ] as const) {
      const client = await db.connect(`operator-${label}`);
      const dataset = await loadBulkDataset(client, label, {
        target: size,
        seedChanges: options.seed,
        seed: 42,
        log,
      });
      log(
        `${label}: ${dataset.changes} changes (${dataset.seedChanges} captured in ${dataset.captureSeconds.toFixed(0)} s, ${dataset.copies} copies in ${dataset.replicateSeconds.toFixed(0)} s) since ${dataset.oldest}`,
      );
      const { rows } = await client.query(
        `SELECT c.transaction_id::text AS id, (SELECT count(*) FROM ${dataset.storage}.audit_changes x WHERE x.transaction_id = c.transaction_id)::int AS n
           FROM ${dataset.storage}.audit_changes c ORDER BY c.captured_at DESC, c.id DESC OFFSET $1 LIMIT 1`,
        [Math.floor(dataset.changes / 2)],
      );
      // The activity rollup is filled by storage maintenance (run on a schedule in production).
      const maintaining = performance.now();
      const maintained = await dataset.tl.storage.maintain();
      log(
        `${label}: storage maintain counted ${maintained.activityHours} hours into the activity rollup in ${((performance.now() - maintaining) / 1000).toFixed(1)} s`,
      );
      log(`${label}: the transaction page shows audit transaction #${rows[0].id} (${rows[0].n} changes)`);
      const surface = createOperatorSurface({
        threadline: dataset.tl,
        basePath: '/audit',
        authorize: () => ({ actor: ActorRef.user('bench') }),
      });
      targets.push({ dataset, surface, transactionId: rows[0].id as string });
    }
    const samples = new Map<string, Sample>();
    for (const t of targets)
      for (const page of PAGES) samples.set(`${t.dataset.label}:${page}`, { ms: [], cpuUs: [] });
    log(`warming up, then ${options.reps} interleaved renders of each page on each dataset`);
    for (let rep = -10; rep < options.reps; rep++) {
      for (const page of PAGES) {
        for (const t of rep % 2 === 0 ? targets : [...targets].reverse()) {
          const r = await render(t.surface, pathOf(page, t));
          if (rep < 0) continue;
          const s = samples.get(`${t.dataset.label}:${page}`)!;
          s.ms.push(r.ms);
          s.cpuUs.push(r.cpuUs);
        }
      }
    }
    const rows: string[][] = [];
    for (const page of PAGES) {
      const small = samples.get(`small:${page}`)!;
      const large = samples.get(`large:${page}`)!;
      const p50s = percentile(small.ms, 50);
      const p50l = percentile(large.ms, 50);
      rows.push([
        page,
        `${num(p50s, 2)} / ${num(percentile(small.ms, 95), 2)}`,
        `${num(p50l, 2)} / ${num(percentile(large.ms, 95), 2)}`,
        num(p50l / p50s, 2),
        p50l / p50s <= 3 ? 'met (<= 3)' : 'NOT met (<= 3)',
        `${num(percentile(small.cpuUs, 50))} / ${num(percentile(large.cpuUs, 50))}`,
      ]);
    }
    process.stdout.write(
      `\nOperator surface: ${targets[0]!.dataset.changes} vs ${targets[1]!.dataset.changes} changes, ${options.reps} renders each\n\n` +
        table(
          [
            'page',
            'small p50 / p95 ms',
            'large p50 / p95 ms',
            'large/small p50',
            'target',
            'server CPU µs p50 (small / large)',
          ],
          rows,
        ) +
        '\n',
    );
    const large = targets[1]!;
    await activityComparison(db, large, options.reps);
    const html = (await render(large.surface, '/audit/timeline')).body;
    const css = (await render(large.surface, '/audit/assets/app.css')).body;
    const js = (await render(large.surface, '/audit/assets/app.js')).body;
    const json = (await render(large.surface, '/audit/api/timeline?pageSize=50')).body;
    const gz = (s: string) => gzipSync(Buffer.from(s)).length;
    const page = gz(html) + gz(css) + gz(js);
    process.stdout.write(
      `\nPage weight of the timeline page (50 changes), gzip:\n\n` +
        table(
          ['what', 'raw bytes', 'gzip bytes'],
          [
            ['HTML', num(html.length), num(gz(html))],
            ['CSS', num(css.length), num(gz(css))],
            ['JS', num(js.length), num(gz(js))],
            ['page total (HTML + CSS + JS)', num(html.length + css.length + js.length), num(page)],
            ['JSON API (same 50 changes)', num(json.length), num(gz(json))],
          ],
        ) +
        `\npage ÷ JSON (gzip): ${num(page / gz(json), 2)}\n`,
    );
  });
}

/**
 * tl.activity on the large dataset with the rollup and without it (a role that may read
 * audit_changes but not the rollup, so core counts every change), interleaved: the default window
 * (the last 24 hours, where the seed's changes sit in hours not rolled up yet) and the whole
 * dataset by day.
 */
async function activityComparison(db: BenchDb, t: Target, reps: number): Promise<void> {
  const role = `${db.name}_raw`;
  const s = t.dataset.storage;
  await db.sql.query(`CREATE ROLE ${role} NOLOGIN; GRANT USAGE ON SCHEMA ${s} TO ${role};
    GRANT SELECT ON ${s}.audit_changes, ${s}.audit_transactions TO ${role}`);
  const rawClient = await db.connect('activity-raw');
  try {
    await rawClient.query(`SET ROLE ${role}`);
    const raw = createThreadline({ db: rawClient, schema: s });
    const windows: [string, ActivityFilters][] = [
      ['default (last 24 h, hour)', {}],
      [
        `whole dataset (since ${t.dataset.oldest.slice(0, 10)}, day)`,
        { from: t.dataset.oldest, bucket: 'day' },
      ],
    ];
    const rows: string[][] = [];
    for (const [label, filters] of windows) {
      const a = await t.dataset.tl.activity(filters);
      const b = await raw.activity(filters);
      if (JSON.stringify(a.buckets) !== JSON.stringify(b.buckets))
        throw new Error(`activity ${label}: the rollup and the raw count disagree`);
      const ms = { rollup: [] as number[], raw: [] as number[] };
      const n = Math.max(5, Math.floor(reps / 20));
      for (let rep = -1; rep < n; rep++) {
        for (const [name, tl] of rep % 2 === 0
          ? ([
              ['rollup', t.dataset.tl],
              ['raw', raw],
            ] as const)
          : ([
              ['raw', raw],
              ['rollup', t.dataset.tl],
            ] as const)) {
          const start = performance.now();
          await tl.activity(filters);
          if (rep >= 0) ms[name].push(performance.now() - start);
        }
      }
      const total = a.buckets.reduce((x, y) => x + y.changes, 0);
      rows.push([
        label,
        num(total),
        `${num(percentile(ms.rollup, 50), 1)} / ${num(percentile(ms.rollup, 95), 1)}`,
        `${num(percentile(ms.raw, 50), 1)} / ${num(percentile(ms.raw, 95), 1)}`,
        num(percentile(ms.raw, 50) / percentile(ms.rollup, 50), 1),
      ]);
    }
    process.stdout.write(
      `\ntl.activity on the large dataset, with the hourly rollup vs counting every change (same answers, checked), ${Math.max(5, Math.floor(reps / 20))} interleaved calls each:\n\n` +
        table(['window', 'changes', 'rollup p50 / p95 ms', 'raw p50 / p95 ms', 'raw ÷ rollup'], rows) +
        '\n',
    );
  } finally {
    await rawClient.end().catch(() => undefined);
    await db.sql
      .query(`DROP OWNED BY ${role}; DROP ROLE ${role}`)
      .catch((e: Error) => log(`could not drop role ${role}: ${e.message}`));
  }
}

const options = parseOrExit(parseOptions, USAGE);
void runOrExit(() => main(options));
