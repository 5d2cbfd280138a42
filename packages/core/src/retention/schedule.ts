import { isThreadlineError, ThreadlineError } from '../errors.js';
import { checkKeys, parseFlag, parseInstant, parseWholeNumber } from '../query/validate.js';
import { parseEvery, parseOnRun, runEvery, type Schedule } from '../schedule/every.js';
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

export type RetentionSchedule = Schedule;

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
  const onRun = parseOnRun((extra as Pick<ScheduleOptions, 'onRun'>).onRun, where);
  // A run already going (here or in another process) is not an error.
  return runEvery(
    ms,
    () => run(purgeOptions),
    (result, error) =>
      error === undefined || isThreadlineError(error, 'RETENTION_RUNNING')
        ? onRun?.(result)
        : onRun?.(null, error),
  );
}
