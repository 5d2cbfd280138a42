import { parseArgs } from 'node:util';

/** Whole-number flags of a benchmark: each with its default and smallest allowed value. */
export type IntFlags<K extends string> = Record<K, { fallback: number; min: number }>;

/**
 * Parse `--name N` integer flags plus `--url` (default $TL_PG_URL or the local server) and
 * `--help`. Throws with the flag's name on a bad value (the entry prints the usage, exit 2).
 */
export function parseIntFlags<K extends string>(
  argv: string[],
  spec: IntFlags<K>,
): ({ [k in K]: number } & { url: string }) | 'help' {
  const options: Record<string, { type: 'string' } | { type: 'boolean'; short: string; default: boolean }> = {
    url: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  };
  for (const name of Object.keys(spec)) options[name] = { type: 'string' };
  const { values } = parseArgs({ args: argv.filter((a) => a !== '--'), options, strict: true });
  if (values.help) return 'help';
  const out: Record<string, number | string> = {
    url:
      (values.url as string | undefined) ??
      process.env.TL_PG_URL ??
      'postgres://postgres@127.0.0.1:5432/postgres',
  };
  for (const [name, { fallback, min }] of Object.entries(spec) as [K, { fallback: number; min: number }][]) {
    const raw = values[name] as string | undefined;
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min)
      throw new Error(`--${name} must be an integer >= ${min} (got ${raw})`);
    out[name] = n;
  }
  return out as { [k in K]: number } & { url: string };
}

/** One positive-integer flag `--name N` from `args` (the simpler benchmarks' flags). */
export function intFlag(args: readonly string[], name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  const value = at >= 0 ? Number(args[at + 1]) : fallback;
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} must be a positive integer`);
  return value;
}
