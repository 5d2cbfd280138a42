/**
 * Export benchmark (npm run bench:export): on a database holding N changes (default 1M) written
 * by real capture, side by side in one run:
 * 1. throughput of `threadline export --format csv` and `--format ndjson` to a file, against
 *    `psql -c "\copy (the same SELECT) to FILE csv"` of the same rows (the physical floor);
 * 2. peak RSS of the exporting process for all N changes vs 100k (`--max-rows 100000`);
 * 3. tl.export.count with the default cap vs the first timeline page (in-process medians).
 * See bench/README.md, "Export benchmark".
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import type { BenchDb } from './db.js';
import { log } from './db.js';
import { parseOrExit, runWithBenchDb } from './entry.js';
import { parseIntFlags } from './flags.js';
import { num, table } from './print.js';
import { median } from './stats.js';

const USAGE = `Usage: pnpm --filter @threadline/bench run export [flags]   (or: npm run bench:export -- [flags])

  --changes N  changes captured before exporting (default 1000000)
  --small N    row count of the small export for the memory comparison (default 100000)
  --reps N     interleaved repetitions of each export variant (default 2)
  --url URL    maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
               the benchmark creates its own database and drops it at the end`;

const FLAGS = {
  changes: { fallback: 1_000_000, min: 1 },
  small: { fallback: 100_000, min: 1 },
  reps: { fallback: 2, min: 1 },
} as const;

type Options = Exclude<ReturnType<typeof parseOptions>, 'help'>;

function parseOptions(argv: string[]) {
  return parseIntFlags(argv, FLAGS);
}

const CLI_BIN = join(
  dirname(createRequire(import.meta.url).resolve('@threadline/cli/package.json')),
  'bin',
  'threadline.js',
);

/**
 * The export's rows as one plain SELECT (what `\copy` gets out): the same columns, order and
 * rendering as the export reads page by page.
 */
const COPY_SELECT = `SELECT c.id, c.transaction_id, c.table_schema, c.table_name, c.op,
  to_char(c.captured_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), c.table_pk, c.data_after, c.data_before,
  array_to_json(c.changed_fields), c.changed_from, t.actor_ref->>'type', t.actor_ref->>'id', t.correlation_id,
  t.request_id, t.job_id, t.source, a.name
  FROM threadline.audit_changes c JOIN threadline.audit_transactions t ON t.id = c.transaction_id
  LEFT JOIN threadline.audit_actions a ON a.id = t.action_id ORDER BY c.captured_at DESC, c.id DESC`;

/** Run a command; resolve with wall seconds and (for node) the peak RSS it reported. */
function timed(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ seconds: number; maxRssMb: number | null }> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code !== 0) return reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`));
      const rss = /TL_MAXRSS_KB=(\d+)/.exec(stderr);
      resolve({ seconds, maxRssMb: rss ? Number(rss[1]) / 1024 : null });
    });
  });
}

async function load(db: BenchDb, changes: number): Promise<void> {
  const client = await db.connect('load');
  try {
    const tl = createThreadline({ db: client });
    await tl.install();
    await client.query(`CREATE TABLE orders (id bigint PRIMARY KEY, customer_id int NOT NULL, status text NOT NULL,
      total numeric(12,2) NOT NULL, note text, meta jsonb)`);
    await tl.installTriggers({ tables: ['orders'] });
    // 70 % inserts, 20 % updates, 10 % deletes, in bound transactions of up to 50k changes, by 20 actors.
    const inserts = Math.round(changes * 0.7);
    const updates = Math.round(changes * 0.2);
    const deletes = changes - inserts - updates;
    const batch = 50_000;
    let done = 0;
    let request = 0;
    const bound = (sql: string, params: unknown[]) =>
      runWithAuditContext(
        {
          actor: ActorRef.user(String(1 + (request % 20))),
          correlationId: `req-${++request}`,
          requestId: `r-${request}`,
        },
        () => tl.transaction((tx) => tx.query(sql, params)),
      );
    for (let from = 1; from <= inserts; from += batch) {
      const to = Math.min(inserts, from + batch - 1);
      await bound(
        `INSERT INTO orders SELECT g, g % 997, 'new', (g % 10000) / 100.0, 'order "' || g || '", note, with commas',
           jsonb_build_object('tags', jsonb_build_array('a', g % 7), 'big', 12345678901234567890, 'name', '=cmd ' || g)
         FROM generate_series($1::bigint, $2::bigint) g`,
        [from, to],
      );
      done += to - from + 1;
      log(`loaded ${num(done)} / ${num(changes)} changes`);
    }
    for (let from = 1; from <= updates; from += batch) {
      const to = Math.min(updates, from + batch - 1);
      await bound(`UPDATE orders SET status = 'paid', total = total + 1 WHERE id BETWEEN $1 AND $2`, [
        from,
        to,
      ]);
      done += to - from + 1;
      log(`loaded ${num(done)} / ${num(changes)} changes`);
    }
    for (let from = updates + 1; from <= updates + deletes; from += batch) {
      const to = Math.min(updates + deletes, from + batch - 1);
      await bound('DELETE FROM orders WHERE id BETWEEN $1 AND $2', [from, to]);
      done += to - from + 1;
      log(`loaded ${num(done)} / ${num(changes)} changes`);
    }
    await client.query('VACUUM ANALYZE threadline.audit_changes');
    await client.query('VACUUM ANALYZE threadline.audit_transactions');
  } finally {
    await client.end();
  }
}

async function countVsTimeline(db: BenchDb): Promise<{ count: number; page: number; capped: boolean }> {
  const pool = db.pool(1);
  try {
    const tl = createThreadline({ db: pool });
    const count: number[] = [];
    const page: number[] = [];
    let capped = false;
    const time = async (fn: () => Promise<unknown>) => {
      const t = process.hrtime.bigint();
      await fn();
      return Number(process.hrtime.bigint() - t) / 1e6;
    };
    for (let i = 0; i < 20; i++) {
      await tl.export.count({});
      await tl.timeline({});
    }
    for (let i = 0; i < 200; i++) {
      count.push(await time(async () => (capped = (await tl.export.count({})).capped)));
      page.push(await time(() => tl.timeline({})));
    }
    return { count: median(count), page: median(page), capped };
  } finally {
    await pool.end();
  }
}

async function main(options: Options, db: BenchDb): Promise<void> {
  await db.create();
  log(`database ${db.name}; capturing ${num(options.changes)} changes`);
  await load(db, options.changes);
  const total = Number(await db.scalar('SELECT count(*) FROM threadline.audit_changes'));
  const dir = mkdtempSync(join(tmpdir(), 'tl-export-bench-'));
  const rssHook = join(dir, 'rss.cjs');
  writeFileSync(
    rssHook,
    "process.on('exit', () => require('fs').writeSync(2, '\\nTL_MAXRSS_KB=' + process.resourceUsage().maxRSS + '\\n'));\n",
  );
  const env = { ...process.env, DATABASE_URL: db.url };
  const cli = (format: string, file: string, rows: 'all' | number) =>
    timed(
      process.execPath,
      [
        '--require',
        rssHook,
        CLI_BIN,
        'export',
        '--format',
        format,
        '--out',
        file,
        ...(rows === 'all' ? ['--all'] : ['--max-rows', String(rows)]),
      ],
      env,
    );
  const variants: Record<string, () => Promise<{ seconds: number; maxRssMb: number | null }>> = {
    'psql \\copy csv': () =>
      timed(
        'psql',
        [db.url, '-X', '-q', '-c', `\\copy (${COPY_SELECT}) to '${join(dir, 'copy.csv')}' csv`],
        env,
      ),
    'threadline export csv': () => cli('csv', join(dir, 'out.csv'), 'all'),
    'threadline export ndjson': () => cli('ndjson', join(dir, 'out.ndjson'), 'all'),
    [`threadline export ndjson ${num(options.small)}`]: () =>
      cli('ndjson', join(dir, 'small.ndjson'), options.small),
  };
  const results: Record<string, { seconds: number[]; rss: number[] }> = {};
  for (let rep = 0; rep < options.reps; rep++) {
    const names = Object.keys(variants);
    for (const name of rep % 2 === 0 ? names : names.reverse()) {
      log(`rep ${rep + 1}/${options.reps}: ${name}`);
      const r = await variants[name]!();
      results[name] ??= { seconds: [], rss: [] };
      results[name].seconds.push(r.seconds);
      if (r.maxRssMb !== null) results[name].rss.push(r.maxRssMb);
    }
  }
  const bytes = (f: string) => statSync(join(dir, f)).size;
  const copy = median(results['psql \\copy csv']!.seconds);
  const rows = Object.entries(results).map(([name, r]) => {
    const s = median(r.seconds);
    const n = name.endsWith(num(options.small)) ? Math.min(options.small, total) : total;
    return [
      name,
      num(n),
      num(s, 2),
      num(n / s),
      name.startsWith('psql') ? '1.00' : n === total ? num(copy / s, 2) : '-',
      r.rss.length ? num(median(r.rss), 0) : '-',
    ];
  });
  const big = median(results['threadline export ndjson']!.rss);
  const small = median(results[`threadline export ndjson ${num(options.small)}`]!.rss);
  log('count vs first timeline page');
  const cv = await countVsTimeline(db);
  const out = [
    '',
    `Export benchmark: ${num(total)} changes (capture of 70 % inserts, 20 % updates, 10 % deletes), ${options.reps} interleaved reps, medians`,
    `files: copy.csv ${num(bytes('copy.csv'))} B, out.csv ${num(bytes('out.csv'))} B, out.ndjson ${num(bytes('out.ndjson'))} B`,
    '',
    table(['variant', 'rows', 'seconds', 'rows/s', 'copy time / time (target >= 0.5)', 'peak RSS MB'], rows),
    '',
    `peak RSS, ndjson ${num(total)} vs ${num(options.small)} rows: ${num(big, 0)} MB / ${num(small, 0)} MB = ${num(big / small, 2)} (target <= 1.3)`,
    `tl.export.count (default cap, capped=${cv.capped}) ${num(cv.count, 3)} ms vs first timeline page ${num(cv.page, 3)} ms = ${num(cv.count / cv.page, 2)}x (target < 2)`,
    '',
  ];
  process.stdout.write(out.join('\n'));
  rmSync(dir, { recursive: true, force: true });
}

const options = parseOrExit(parseOptions, USAGE);
void runWithBenchDb(options.url, (db) => main(options, db));
