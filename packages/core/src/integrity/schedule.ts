import { parseEvery } from '../retention/schedule.js';
import type { SealResult } from './types.js';

export interface SealScheduleOptions {
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
export function scheduleSeals(run: () => Promise<SealResult>, options: SealScheduleOptions): SealSchedule {
  const ms = parseEvery(options?.every, 'integrity.schedule');
  let current: Promise<void> | null = null;
  const tick = () => {
    if (current) return;
    current = run()
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
