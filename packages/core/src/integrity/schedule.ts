import { checkKeys } from '../query/validate.js';
import { parseEvery, parseOnRun, runEvery, type Schedule } from '../schedule/every.js';
import type { SealOptions, SealResult } from './types.js';

/** `every` and `onRun`, and the options every seal is given (tl.integrity.seal's). */
export interface SealScheduleOptions extends SealOptions {
  /** Milliseconds between seals (at least one minute), or "1h", "30m", "1d". */
  every: number | string;
  /** Called with each seal's result, or its error. */
  onRun?: (result: SealResult | null, error?: unknown) => void;
}

export type SealSchedule = Schedule;

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
  const onRun = parseOnRun((extra as Pick<SealScheduleOptions, 'onRun'>).onRun, where);
  return runEvery(
    ms,
    () => run(sealOptions),
    (result, error) => onRun?.(result, error),
  );
}
