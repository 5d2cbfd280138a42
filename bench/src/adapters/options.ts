import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { FRAMEWORKS, type Framework } from './protocol.js';

const SECTIONS = ['endpoint', 'middleware', 'writes'] as const;
type Section = (typeof SECTIONS)[number];

export interface AdapterBenchOptions {
  reps: number;
  seconds: number;
  window: number;
  warmup: number;
  connections: number;
  pool: number;
  writes: number;
  quick: boolean;
  json: string | undefined;
  only: Set<Section>;
  frameworks: Framework[];
  profile: string | undefined;
  seed: number;
  url: string;
}

export const USAGE = `Usage: pnpm --filter @threadline/bench run adapters [flags]   (or: npm run bench:adapters -- [flags])

  --reps N          repetitions of every run, interleaved in shuffled order (default 3, minimum 3)
  --seconds N       measured seconds of load per server and repetition (default 10)
  --window N        the measured seconds are split into windows of N seconds; the servers of one
                    framework take turns window by window, in shuffled order (default 2)
  --warmup N        seconds of load on each server before its measured windows (default 2)
  --connections N   concurrent keep-alive connections of the load generator (default 16)
  --pool N          pg Pool size of the endpoint servers, both variants (default 8)
  --writes N        autocommit writes per lane and repetition (default 600)
  --quick           smoke run: --seconds 2 --window 1 --warmup 1 --writes 200 unless given explicitly
  --json FILE       also write every raw measurement and the summary as JSON
  --only LIST       run only these sections: ${SECTIONS.join(',')} (default: all)
  --frameworks LIST only these frameworks: ${FRAMEWORKS.join(',')} (default: all)
  --profile DIR     write a V8 CPU profile (.cpuprofile) of every server process into DIR
  --seed N          seed for the shuffles (default 42)
  --url URL         maintenance database URL (default $TL_PG_URL or postgres://postgres@127.0.0.1:5432/postgres);
                    the benchmark creates its own database tl_bench_<random> there and drops it at the end`;

function positiveInt(name: string, raw: string | undefined, fallback: number, min = 1): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min} (got ${raw})`);
  return n;
}

function list<T extends string>(flag: string, raw: string | undefined, known: readonly T[]): T[] {
  if (raw === undefined) return [...known];
  return raw.split(',').map((name) => {
    const value = name.trim() as T;
    if (!known.includes(value)) throw new Error(`--${flag}: unknown "${name}"; known: ${known.join(', ')}`);
    return value;
  });
}

export function parseOptions(argv: string[]): AdapterBenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--'),
    options: {
      reps: { type: 'string' },
      seconds: { type: 'string' },
      window: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      pool: { type: 'string' },
      writes: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      only: { type: 'string' },
      frameworks: { type: 'string' },
      profile: { type: 'string' },
      seed: { type: 'string' },
      url: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const quick = values.quick === true;
  return {
    reps: positiveInt('reps', values.reps, 3, 3),
    seconds: positiveInt('seconds', values.seconds, quick ? 2 : 10),
    window: positiveInt('window', values.window, quick ? 1 : 2),
    warmup: positiveInt('warmup', values.warmup, quick ? 1 : 2, 0),
    connections: positiveInt('connections', values.connections, 16),
    pool: positiveInt('pool', values.pool, 8),
    writes: positiveInt('writes', values.writes, quick ? 200 : 600, 10),
    quick,
    // Relative to where the user ran npm/pnpm (INIT_CWD), not the bench package the script runs in.
    json: values.json === undefined ? undefined : resolve(process.env.INIT_CWD ?? '.', values.json),
    only: new Set(list('only', values.only, SECTIONS)),
    frameworks: list('frameworks', values.frameworks, FRAMEWORKS),
    profile: values.profile,
    seed: positiveInt('seed', values.seed, 42, 0),
    url: values.url ?? process.env.TL_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres',
  };
}
