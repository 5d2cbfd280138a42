/**
 * Query benchmark: row history, as-of and first timeline pages (by table, by actor, unfiltered,
 * by correlation id) on audit tables holding 10k and 1M changes, measured side by side in one
 * run; prints median latencies, the large/small ratio per query against the ≤ 3 target, and the
 * EXPLAIN (ANALYZE, BUFFERS) plan of each query on the large dataset. See bench/README.md.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { ActorRef, createThreadline, type SqlClient, type Threadline } from '@threadline/core';
import pg from 'pg';
import { parseOrExit, runOrExit } from '../entry.js';
import { loadBulkDataset } from '../fixtures/bulk-audit.js';
import { num, table } from '../print.js';
import { median } from '../stats.js';
import {
  BENCH_ACTOR,
  BENCH_CORRELATION,
  type Dataset,
  HOT_ORDER_ID,
  loadDataset,
  RARE_ACTOR,
} from './dataset.js';

const USAGE = `Usage: pnpm --filter @threadline/bench run queries [flags]   (or: npm run bench:queries -- [flags])

  --small N   changes in the small dataset (default 10000)
  --large N   changes in the large dataset (default 1000000)
  --base N    capture only N changes of the large dataset, then copy them set-based up to --large
              (fixtures/bulk-audit.ts: new ids, spread over the six months before the seed);
              default: the whole large dataset through real capture
  --reps N    timed repetitions of every query on each dataset (default 300)
  --seed N    seed of the data generator (default 42)
  --url URL   maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
              the benchmark creates its own database tl_qbench_<random> there and drops it at the end`;

const TARGET_RATIO = 3;

function log(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

interface Options {
  small: number;
  large: number;
  base: number | null;
  reps: number;
  seed: number;
  url: string;
}

function parseOptions(argv: string[]): Options | 'help' {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--'),
    options: {
      small: { type: 'string' },
      large: { type: 'string' },
      base: { type: 'string' },
      reps: { type: 'string' },
      seed: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const int = (name: string, raw: string | undefined, fallback: number, min: number) => {
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  return {
    small: int('small', values.small, 10_000, 1000),
    large: int('large', values.large, 1_000_000, 1000),
    base: values.base === undefined ? null : int('base', values.base, 0, 1000),
    reps: int('reps', values.reps, 300, 10),
    seed: int('seed', values.seed, 42, 0),
    url: values.url ?? process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}

/** A SqlClient over one pg.Client that remembers the last statement, so it can be EXPLAINed. */
type RecordingClient = SqlClient & { last: { sql: string; params: unknown[] } };
function recordingClient(client: pg.Client): RecordingClient {
  // Typed as SqlClient (not cast) so that a member core adds to the interface fails the typecheck here.
  const self: RecordingClient = {
    kind: 'custom' as const,
    last: { sql: '', params: [] as unknown[] },
    async query(sql: string, params: readonly unknown[] = []) {
      self.last = { sql, params: [...params] };
      const r = await client.query(sql, [...params]);
      return { rows: r.rows, rowCount: r.rowCount };
    },
    async exec(sql: string) {
      await client.query(sql);
    },
    transaction(): never {
      throw new Error('the query benchmark runs no transactions');
    },
    queryAfter(): never {
      throw new Error('the query benchmark runs no transactions');
    },
  };
  return self;
}

interface QuerySpec {
  name: string;
  what: string;
  run(tl: Threadline, d: Dataset): Promise<unknown>;
}

const QUERIES: QuerySpec[] = [
  {
    name: 'history',
    what: `tl.history(orders, ${HOT_ORDER_ID}) first page (21 changes of one row)`,
    run: (tl, d) => tl.history(`${d.app}.orders`, HOT_ORDER_ID),
  },
  {
    name: 'asOf',
    what: 'tl.asOf(orders, 1, mid-load instant between two of its updates)',
    run: (tl, d) => tl.asOf(`${d.app}.orders`, HOT_ORDER_ID, d.asOfAt),
  },
  {
    name: 'timeline by table',
    what: 'tl.timeline({ table: orders }) first page of 50',
    run: (tl, d) => tl.timeline({ table: `${d.app}.orders` }),
  },
  {
    name: 'timeline by actor',
    what: `tl.timeline({ actor: ${ActorRef.format(BENCH_ACTOR)} }) first page of 50`,
    run: (tl) => tl.timeline({ actor: BENCH_ACTOR }),
  },
  {
    name: 'timeline by rare actor',
    what: `tl.timeline({ actor: ${ActorRef.format(RARE_ACTOR)} }) (3 transactions, all at the start of the load)`,
    run: (tl) => tl.timeline({ actor: RARE_ACTOR }),
  },
  {
    name: 'timeline unfiltered',
    what: 'tl.timeline() first page of 50',
    run: (tl) => tl.timeline(),
  },
  {
    name: 'timeline by correlation',
    what: `tl.timeline({ correlationId: '${BENCH_CORRELATION}' }) (one request: 2 statements + an action)`,
    run: (tl) => tl.timeline({ correlationId: BENCH_CORRELATION }),
  },
];

interface Measured {
  latencyMs: number[];
  serverMs: number[];
  rows: number;
  plan: string;
}

async function explain(client: pg.Client, sql: string, params: unknown[], text: boolean): Promise<string> {
  const { rows } = await client.query(
    `EXPLAIN (ANALYZE, BUFFERS${text ? '' : ', TIMING OFF, FORMAT JSON'}) ${sql}`,
    params,
  );
  if (text) return rows.map((r) => r['QUERY PLAN']).join('\n');
  return String((rows[0]['QUERY PLAN'] as { 'Execution Time': number }[])[0]!['Execution Time']);
}

function entriesOf(result: unknown): number {
  const r = result as { entries?: unknown[]; status?: string };
  if (Array.isArray(r.entries)) return r.entries.length;
  return r.status === 'before_horizon' ? 0 : 1;
}

async function main(o: Options): Promise<void> {
  const started = Date.now();
  const name = `tl_qbench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: o.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(o.url);
  url.pathname = `/${name}`;
  const loader = new pg.Client({ connectionString: url.toString(), application_name: 'tl-qbench-load' });
  const reader = new pg.Client({ connectionString: url.toString(), application_name: 'tl-qbench-read' });
  const cleanup = async () => {
    await loader.end().catch(() => undefined);
    await reader.end().catch(() => undefined);
    const c = new pg.Client({ connectionString: o.url });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await c.end();
    log(`dropped database ${name}`);
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await loader.connect();
    await reader.connect();
    log(`database ${name}: loading ${o.small} and ${o.large} changes through capture`);
    const small = await loadDataset(loader, 'small', o.small, o.seed, log);
    log(`small: ${small.changes} changes in ${small.loadSeconds.toFixed(1)} s`);
    // --base: a seed through real capture, copied set-based to --large (fixtures/bulk-audit.ts),
    // spread over the six months before it (monthly partitions); the rare actor stays unique.
    const large =
      o.base !== null && o.base < o.large
        ? await loadBulkDataset(loader, 'large', {
            target: o.large,
            seedChanges: o.base,
            onlyInSeed: [RARE_ACTOR],
            seed: o.seed + 1,
            log,
          })
        : await loadDataset(loader, 'large', o.large, o.seed + 1, log);
    log(`large: ${large.changes} changes in ${large.loadSeconds.toFixed(1)} s`);
    await loader.query('CHECKPOINT');

    const recorder = recordingClient(reader);
    const sets = [small, large].map((d) => ({
      d,
      tl: createThreadline({ db: recorder, schema: d.storage }),
    }));
    const results: Measured[][] = [[], []];
    for (const q of QUERIES) {
      log(`measuring ${q.name}`);
      const latency: number[][] = [[], []];
      const rows: number[] = [0, 0];
      // Warm-up, then interleaved timed runs (small, large, large, small, ...) so drift hits both.
      for (let i = 0; i < 20; i++) for (const s of sets) await q.run(s.tl, s.d);
      for (let i = 0; i < o.reps; i++) {
        const order = i % 2 === 0 ? [0, 1] : [1, 0];
        for (const k of order) {
          const s = sets[k]!;
          const t0 = process.hrtime.bigint();
          const result = await q.run(s.tl, s.d);
          latency[k]!.push(Number(process.hrtime.bigint() - t0) / 1e6);
          rows[k] = entriesOf(result);
        }
      }
      for (const k of [0, 1]) {
        const s = sets[k]!;
        await q.run(s.tl, s.d);
        const { sql, params } = recorder.last;
        const server: number[] = [];
        for (let i = 0; i < 21; i++) server.push(Number(await explain(reader, sql, params, false)));
        const plan = await explain(reader, sql, params, true);
        results[k]!.push({ latencyMs: latency[k]!, serverMs: server, rows: rows[k]!, plan });
      }
    }
    const minutes = (Date.now() - started) / 60_000;
    const server = (await reader.query('SHOW server_version')).rows[0].server_version;
    const settings = (
      await reader.query(
        `SELECT string_agg(name || '=' || setting || coalesce(' ' || nullif(unit, ''), ''), ', ' ORDER BY name) AS s
           FROM pg_settings WHERE name IN ('shared_buffers', 'work_mem', 'random_page_cost', 'jit', 'effective_cache_size')`,
      )
    ).rows[0].s;
    print(o, small, large, results, QUERIES, { server, settings, minutes });
  } finally {
    await cleanup();
  }
}

function print(
  o: Options,
  small: Dataset,
  large: Dataset,
  results: Measured[][],
  queries: QuerySpec[],
  env: { server: string; settings: string; minutes: number },
): void {
  const mb = (b: number) => `${num(b / 1024 / 1024, 0)} MB`;
  const lines: string[] = [
    'Threadline query benchmark',
    `PostgreSQL ${env.server} (${env.settings}); ${availableParallelism()} CPUs; Node ${process.version}`,
    `--small ${o.small} --large ${o.large}${o.base === null ? '' : ` --base ${o.base}`} --reps ${o.reps} --seed ${o.seed}; ran ${env.minutes.toFixed(1)} min`,
    '',
    table(
      ['dataset', 'changes', 'transactions', 'audit size', 'load time', 'changes/s'],
      [small, large].map((d) => [
        d.label,
        num(d.changes),
        num(d.transactions),
        mb(d.auditBytes),
        `${d.loadSeconds.toFixed(1)} s`,
        num(d.changes / d.loadSeconds),
      ]),
    ),
    '',
    `Median over ${o.reps} runs on warm cache, through the core API on one connection (latency includes the`,
    'round trip and turning rows into objects); server = median EXPLAIN ANALYZE execution time of the same',
    `statement over 21 runs (TIMING OFF). Target: large/small latency ratio <= ${TARGET_RATIO}.`,
    '',
    table(
      [
        'query',
        'rows',
        'small ms',
        'large ms',
        'ratio',
        'target',
        'server small ms',
        'server large ms',
        'server ratio',
      ],
      queries.map((q, i) => {
        const s = results[0]![i]!;
        const l = results[1]![i]!;
        const ls = median(s.latencyMs);
        const ll = median(l.latencyMs);
        const ss = median(s.serverMs);
        const sl = median(l.serverMs);
        return [
          q.name,
          s.rows === l.rows ? String(s.rows) : `${s.rows}/${l.rows}`,
          num(ls, 3),
          num(ll, 3),
          num(ll / ls, 2),
          ll / ls <= TARGET_RATIO ? 'met' : 'NOT MET',
          num(ss, 3),
          num(sl, 3),
          num(sl / ss, 2),
        ];
      }),
    ),
    '',
    ...queries.map((q) => `  ${q.name}: ${q.what}`),
    '',
    `EXPLAIN (ANALYZE, BUFFERS) of each query on the large dataset (${num(large.changes)} changes):`,
  ];
  for (const [i, q] of queries.entries()) {
    lines.push('', `--- ${q.name} ---`, results[1]![i]!.plan);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

const options = parseOrExit(parseOptions, USAGE);
await runOrExit(() => main(options));
