import { isThreadlineError, ThreadlineError } from '../errors.js';
import { checkKeys, parseFlag, parseInstant, parseWholeNumber } from '../query/validate.js';
import { PURGE_OPTION_KEYS, type PurgeOptions, type PurgeResult } from './purge.js';

/**
 * `every` and `onRun`, and the options every run is given (tl.retention.purge's: `dryRun: true`
 * schedules dry runs, `cutoff` a fixed older cutoff, …).
 */
export interface ScheduleOptions extends PurgeOptions {
  /** Milliseconds between runs (at least one minute), or "1h", "30m", "1d". */
  every: number | string;
  /** Called with each run's result, or its error (a run already going elsewhere is not an error). */
  onRun?: (result: PurgeResult | null, error?: unknown) => void;
}

export interface RetentionSchedule {
  stop(): Promise<void>;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m" → 1,800,000; numbers are milliseconds. At least one minute. */
export function parseEvery(every: unknown, where = 'retention.schedule'): number {
  let ms: number;
  if (typeof every === 'number') ms = every;
  else if (typeof every === 'string' && /^\d+[smhd]$/.test(every.trim())) {
    const t = every.trim();
    ms = Number(t.slice(0, -1)) * UNITS[t.slice(-1)]!;
  } else ms = Number.NaN;
  if (!Number.isFinite(ms) || ms < 60_000 || ms > 31 * 86_400_000) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${where}: every must be from one minute to 31 days, e.g. "1h", "30m" or 3600000`,
    );
  }
  return ms;
}

/**
 * A purge schedule's options, checked before anything is scheduled (tl.retention.schedule, and
 * @threadline/bullmq's retentionJob): the known keys only (`every`, `extraKeys`, and the purge's
 * own, passed to every run), `every` in range, and what can be checked without the database (a
 * mistyped `dryRun: 'true'` must never schedule real purges). The cutoff is checked against the
 * policy at every run.
 */
export function parsePurgeSchedule(
  input: unknown,
  where: string,
  extraKeys: readonly string[] = [],
): { every: number; purge: PurgeOptions; extra: Record<string, unknown> } {
  const options = checkKeys(input, ['every', ...extraKeys, ...PURGE_OPTION_KEYS], `${where} options`, true);
  const every = parseEvery(options.every, where);
  const purge: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key === 'every') continue;
    if ((PURGE_OPTION_KEYS as readonly string[]).includes(key)) purge[key] = value;
    else extra[key] = value;
  }
  parseFlag(purge.dryRun, 'dryRun', where);
  for (const key of ['batchSize', 'maxBatches'])
    parseWholeNumber(purge[key], key, where, { min: 1, max: 10_000_000, fallback: 1 });
  if (purge.cutoff !== undefined) parseInstant(purge.cutoff, `${where}: cutoff`);
  if (purge.onBatch !== undefined && typeof purge.onBatch !== 'function')
    throw new ThreadlineError('QUERY_INVALID', `${where}: onBatch must be a function`);
  return { every, purge: purge as PurgeOptions, extra };
}

/**
 * Run purges in this process every `every`, each with the purge options given. One run at a time:
 * a tick that finds a run going (here or in another process) skips. Stop it on shutdown.
 */
export function schedulePurges(
  run: (options: PurgeOptions) => Promise<PurgeResult>,
  input: ScheduleOptions,
): RetentionSchedule {
  const where = 'retention.schedule';
  const { every: ms, purge: purgeOptions, extra } = parsePurgeSchedule(input, where, ['onRun']);
  const options = extra as Pick<ScheduleOptions, 'onRun'>;
  if (options.onRun !== undefined && typeof options.onRun !== 'function')
    throw new ThreadlineError('QUERY_INVALID', `${where}: onRun must be a function`);
  let current: Promise<void> | null = null;
  const tick = () => {
    if (current) return;
    current = run(purgeOptions)
      .then(
        (result) => options.onRun?.(result),
        (error) => {
          if (isThreadlineError(error, 'RETENTION_RUNNING')) options.onRun?.(null);
          else options.onRun?.(null, error);
        },
      )
      .finally(() => {
        current = null;
      });
  };
  const timer = setInterval(tick, ms);
  timer.unref?.();
  return {
    async stop() {
      clearInterval(timer);
      await current;
    },
  };
}
