import { ThreadlineError } from '../errors.js';
import { checkKeys } from '../query/validate.js';
import { parseEvery } from '../retention/schedule.js';
import type { SealOptions, SealResult } from './types.js';

/** `every` and `onRun`, and the options every seal is given (tl.integrity.seal's). */
export interface SealScheduleOptions extends SealOptions {
  /** Milliseconds between seals (at least one minute), or "1h", "30m", "1d". */
  every: number | string;
  /** Called with each seal's result, or its error. */
  onRun?: (result: SealResult | null, error?: unknown) => void;
}

export interface SealSchedule {
  stop(): Promise<void>;
}

const SEAL_OPTION_KEYS = ['chunkSize', 'waitMs', 'onLink'];

/**
 * A seal schedule's options (tl.integrity.schedule, @threadline/bullmq's sealJob), checked before
 * anything is scheduled: the known keys only (`every`, `extraKeys`, and the seal's own, given to
 * every seal) and `every` in range.
 */
export function parseSealSchedule(
  input: unknown,
  where: string,
  extraKeys: readonly string[] = [],
): { every: number; seal: SealOptions; extra: Record<string, unknown> } {
  const options = checkKeys(input, ['every', ...extraKeys, ...SEAL_OPTION_KEYS], `${where} options`);
  const every = parseEvery(options.every, where);
  const seal: Record<string, unknown> = {};
  const extra: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    if (key !== 'every') (SEAL_OPTION_KEYS.includes(key) ? seal : extra)[key] = value;
  }
  return { every, seal: seal as SealOptions, extra };
}

/**
 * Seal in this process every `every`, each seal with the seal options given. One seal at a time
 * here; seals in other processes wait on the chain's advisory lock and then find nothing left to
 * seal, so concurrent schedules are safe.
 */
export function scheduleSeals(
  run: (options: SealOptions) => Promise<SealResult>,
  input: SealScheduleOptions,
): SealSchedule {
  const where = 'integrity.schedule';
  const { every: ms, seal: sealOptions, extra } = parseSealSchedule(input, where, ['onRun']);
  const options = extra as Pick<SealScheduleOptions, 'onRun'>;
  if (options.onRun !== undefined && typeof options.onRun !== 'function')
    throw new ThreadlineError('QUERY_INVALID', `${where}: onRun must be a function`);
  let current: Promise<void> | null = null;
  const tick = () => {
    if (current) return;
    current = run(sealOptions)
      .then(
        (result) => options.onRun?.(result),
        (error) => options.onRun?.(null, error),
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
