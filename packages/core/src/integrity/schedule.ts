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

/**
 * Seal in this process every `every`. One seal at a time here; seals in other processes wait on
 * the chain's advisory lock and then find nothing left to seal, so concurrent schedules are safe.
 */
export function scheduleSeals(
  run: (options: SealOptions) => Promise<SealResult>,
  input: SealScheduleOptions,
): SealSchedule {
  const where = 'integrity.schedule';
  const options = checkKeys(
    input,
    ['every', 'onRun', 'chunkSize', 'waitMs', 'onLink'],
    `${where} options`,
  ) as unknown as SealScheduleOptions;
  const ms = parseEvery(options.every, where);
  if (options.onRun !== undefined && typeof options.onRun !== 'function')
    throw new ThreadlineError('QUERY_INVALID', `${where}: onRun must be a function`);
  const { every: _every, onRun: _onRun, ...sealOptions } = options;
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
