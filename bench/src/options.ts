import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const WORKLOADS = ['bulk', 'single', 'concurrent', 'hazard', 'tpcb'] as const;
type Workload = (typeof WORKLOADS)[number];

export interface BenchOptions {
  reps: number;
  rows: number;
  txns: number;
  seconds: number;
  clients: number;
  tpcbScale: number;
  tpcbSeconds: number;
  compareInvoker: boolean;
  quick: boolean;
  json: string | undefined;
  seed: number;
  only: Set<Workload>;
  url: string;
}

export const USAGE = `Usage: pnpm --filter @threadline/bench run capture [flags]   (or: npm run bench:capture -- [flags])

  --reps N      repetitions of every variant, interleaved in shuffled order (default 3, minimum 3)
  --rows N      rows per bulk statement and rows loaded for UPDATE workloads (default 100000)
  --txns N      single-row transactions per variant and repetition (default 5000; the issue's size is 20000)
  --seconds N   duration of each 8-client concurrency run (default 20)
  --tpcb-scale N   pgbench scale of the TPC-B workload (100,000 accounts per unit; default 8)
  --tpcb-seconds N seconds of each pgbench run (per variant, client count and repetition; default 10)
  --compare-invoker  also run capture as it was before issue 12 (the generated function SECURITY INVOKER,
                the writer inserting audit rows itself) next to capture (SECURITY DEFINER) in the single-row,
                concurrency and TPC-B workloads
  --quick       smoke run: --rows 5000 --txns 500 --seconds 3 --tpcb-scale 1 --tpcb-seconds 3 unless given explicitly
  --json FILE   also write every raw measurement and the summary as JSON
  --only LIST   run only these workloads: ${WORKLOADS.join(',')} (default: all)
  --seed N      seed for the shuffles and the id sequences (default 42)
  --url URL     maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
                the benchmark creates its own database tl_bench_<random> there and drops it at the end`;

function positiveInt(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min} (got ${raw})`);
  return n;
}

export function parseOptions(argv: string[]): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--'),
    options: {
      reps: { type: 'string' },
      rows: { type: 'string' },
      txns: { type: 'string' },
      seconds: { type: 'string' },
      'tpcb-scale': { type: 'string' },
      'tpcb-seconds': { type: 'string' },
      quick: { type: 'boolean', default: false },
      'compare-invoker': { type: 'boolean', default: false },
      json: { type: 'string' },
      only: { type: 'string' },
      seed: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick === true;
  const only = new Set<Workload>();
  for (const name of (values.only ?? WORKLOADS.join(',')).split(',')) {
    const w = name.trim() as Workload;
    if (!WORKLOADS.includes(w))
      throw new Error(`--only: unknown workload "${name}"; known: ${WORKLOADS.join(', ')}`);
    only.add(w);
  }
  return {
    reps: positiveInt('reps', values.reps, 3, 3),
    rows: positiveInt('rows', values.rows, quick ? 5_000 : 100_000, 100),
    txns: positiveInt('txns', values.txns, quick ? 500 : 5_000),
    seconds: positiveInt('seconds', values.seconds, quick ? 3 : 20),
    clients: 8,
    tpcbScale: positiveInt('tpcb-scale', values['tpcb-scale'], quick ? 1 : 8),
    tpcbSeconds: positiveInt('tpcb-seconds', values['tpcb-seconds'], quick ? 3 : 10),
    compareInvoker: values['compare-invoker'] === true,
    quick,
    // Relative to where the user ran npm/pnpm (INIT_CWD), not the bench package the script runs in.
    json: values.json === undefined ? undefined : resolve(process.env.INIT_CWD ?? '.', values.json),
    seed: positiveInt('seed', values.seed, 42, 0),
    only,
    url: values.url ?? process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}
