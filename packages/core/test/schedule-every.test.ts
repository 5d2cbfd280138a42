import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { parseEvery, runEvery } from '../src/schedule/every.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
});

it('runs one run at a time: ticks while a run is going do nothing, and stop waits for the run', async () => {
  let finish!: (value: number) => void;
  let started = 0;
  const outcomes: unknown[] = [];
  const schedule = runEvery(
    60_000,
    () => {
      started++;
      return new Promise<number>((resolve) => {
        finish = resolve;
      });
    },
    (result, error) => outcomes.push(error ?? result),
  );
  vi.advanceTimersByTime(60_000);
  vi.advanceTimersByTime(180_000);
  expect(started).toBe(1);
  const stopped = schedule.stop();
  finish(7);
  await stopped;
  expect(outcomes).toEqual([7]);
  vi.advanceTimersByTime(600_000);
  expect(started).toBe(1);
});

it('hands a failed run to settle as its error, and runs again at the next tick', async () => {
  const outcomes: unknown[] = [];
  let calls = 0;
  const schedule = runEvery(
    60_000,
    async () => {
      calls++;
      if (calls === 1) throw new Error('boom');
      return 'ok';
    },
    (result, error) => outcomes.push(error instanceof Error ? error.message : result),
  );
  vi.advanceTimersByTime(60_000);
  await vi.waitFor(() => expect(outcomes).toHaveLength(1));
  vi.advanceTimersByTime(60_000);
  await vi.waitFor(() => expect(outcomes).toHaveLength(2));
  await schedule.stop();
  expect(outcomes).toEqual(['boom', 'ok']);
});

it('parseEvery takes milliseconds or "30s"/"30m"/"1h"/"1d" from one minute to 31 days, naming the option', () => {
  expect(parseEvery('30m', 'x')).toBe(1_800_000);
  expect(parseEvery(' 2h ', 'x')).toBe(7_200_000);
  expect(parseEvery(60_000, 'x')).toBe(60_000);
  for (const bad of ['59s', 59_999, '32d', '1w', '', null, Number.NaN, '1.5h', {}])
    expect(() => parseEvery(bad, 'retention.schedule')).toThrow(
      /^retention\.schedule: every must be from one minute/,
    );
});
