import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeEachDb } from '@threadline/test-utils';
import { describe, expect, it } from 'vitest';
import { isThreadlineError } from '../src/index.js';
import { parseRawObject } from '../src/revert/raw-json.js';
import { installed } from './helpers.js';

describeEachDb('errors name the operation that failed', (db) => {
  it('installTriggers, planTriggers and removeTriggers each name themselves', async () => {
    const tl = await installed(db());
    const cases = [
      ['installTriggers', () => tl.installTriggers()],
      ['planTriggers', () => tl.planTriggers({ tables: [] })],
      ['removeTriggers', () => tl.removeTriggers({ tables: ['a', 'public.a'] })],
    ] as const;
    for (const [operation, run] of cases) {
      const error = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isThreadlineError(error, 'CONFIG_INVALID')).toBe(true);
      expect((error as Error).message.startsWith(`${operation}: `)).toBe(true);
    }
  });
});

describe('every failure core raises is a ThreadlineError', () => {
  it('a malformed stored row image fails with DATABASE_ERROR, not a plain Error', () => {
    let error: unknown;
    try {
      parseRawObject('[1]');
    } catch (e) {
      error = e;
    }
    expect(isThreadlineError(error, 'DATABASE_ERROR')).toBe(true);
  });

  it('no source file throws or rejects with a plain Error (the pipelining path did)', () => {
    const root = join(import.meta.dirname, '../src');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/new (?:Type|Range)?Error\(/.test(readFileSync(path, 'utf8'))) offenders.push(path);
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});
