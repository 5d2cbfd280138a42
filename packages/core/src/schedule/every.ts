import { ThreadlineError } from '../errors.js';

/** A job this process runs at an interval (tl.retention.schedule, tl.integrity.schedule). */
export interface Schedule {
  /** Stops the timer and waits for a run that is going. */
  stop(): Promise<void>;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30m" → 1,800,000; numbers are milliseconds. From one minute to 31 days. */
export function parseEvery(every: unknown, where: string): number {
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

/** An `onRun` option: a function or nothing. */
export function parseOnRun<F>(onRun: F | undefined, where: string): F | undefined {
  if (onRun !== undefined && typeof onRun !== 'function')
    throw new ThreadlineError('QUERY_INVALID', `${where}: onRun must be a function`);
  return onRun;
}

/**
 * Calls `run` every `ms` in this process, one run at a time (a tick while a run is going does
 * nothing), and hands each outcome to `settle`. The timer does not keep the process alive.
 */
export function runEvery<R>(
  ms: number,
  run: () => Promise<R>,
  settle: (result: R | null, error?: unknown) => void,
): Schedule {
  let current: Promise<void> | null = null;
  const tick = () => {
    if (current) return;
    current = run()
      .then(
        (result) => settle(result),
        (error) => settle(null, error),
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
