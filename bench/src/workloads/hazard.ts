import { performance } from 'node:perf_hooks';
import { createThreadline } from '@threadline/core';
import type pg from 'pg';
import { type BenchDb, boundQuery, log } from '../db.js';
import type { BenchOptions } from '../options.js';
import { bulkSql, rowSql } from '../schema.js';
import { median, prng, shuffle } from '../stats.js';
import { NONE, type Verifier } from '../verify.js';

/**
 * Plan-cache hazard: plpgsql caches the plan of the capture statement with the transition-table
 * size of its first call in a session. Compared, on the audited table:
 *   small-after-big: 1-row UPDATEs in the session that just ran a 100k-row UPDATE;
 *   small-fresh:     the same 1-row UPDATEs in a new session (the 100k-row UPDATE ran in another one);
 *   big-after-small: a 100k-row UPDATE in the session that just ran a 1-row UPDATE;
 *   big-fresh:       the same 100k-row UPDATE in a new session (the 1-row UPDATE ran in another one).
 * Both sides of a pair see the same table state; only the session (and so its cached plan) differs.
 * 1-row times are the median of SMALL_STATEMENTS statements (each its own bound transaction).
 */
export type HazardCase = 'small-after-big' | 'small-fresh' | 'big-after-small' | 'big-fresh';
export const HAZARD_CASES: HazardCase[] = ['small-after-big', 'small-fresh', 'big-after-small', 'big-fresh'];
const SMALL_STATEMENTS = 21;
/** A pathological plan is cut off here and reported as "at least". */
const TIMEOUT_MS = 300_000;

export interface HazardRun {
  rep: number;
  case: HazardCase;
  ms: number;
  timedOut: boolean;
}

export async function runHazard(db: BenchDb, o: BenchOptions, verifier: Verifier): Promise<HazardRun[]> {
  const random = prng(o.seed + 3);
  const big = bulkSql('update', 'audit', o.rows);
  const small = rowSql('update', 'audit');
  const runs: HazardRun[] = [];
  let statements = 0;
  let changes = 0;
  const session = async <T>(
    role: string,
    fn: (run: (sql: string, params?: unknown[]) => Promise<number>) => Promise<T>,
  ) => {
    const client: pg.Client = await db.connect(`hazard-${role}`, TIMEOUT_MS);
    const tl = createThreadline({ db: client });
    try {
      return await fn(async (sql, params) => {
        const n = await boundQuery(tl, `bench-hazard-${statements}`, sql, params);
        statements++;
        changes += n;
        return n;
      });
    } finally {
      await client.end();
    }
  };
  const timed = async (fn: () => Promise<unknown>): Promise<{ ms: number; timedOut: boolean }> => {
    const t0 = performance.now();
    try {
      await fn();
      return { ms: performance.now() - t0, timedOut: false };
    } catch (error) {
      if ((error as { code?: string }).code !== '57014') throw error;
      return { ms: performance.now() - t0, timedOut: true };
    }
  };
  const smalls = async (run: (sql: string, params?: unknown[]) => Promise<number>) => {
    const times: number[] = [];
    for (let i = 1; i <= SMALL_STATEMENTS; i++) {
      const t = await timed(() => run(small, [i]));
      if (t.timedOut) return t;
      times.push(t.ms);
    }
    return { ms: median(times), timedOut: false };
  };

  for (let rep = 1; rep <= o.reps; rep++) {
    for (const c of shuffle(HAZARD_CASES, random)) {
      await db.reset('audit', o.rows);
      statements = 0;
      changes = 0;
      let result: { ms: number; timedOut: boolean };
      if (c === 'small-after-big') {
        await db.checkpoint();
        result = await session(c, async (run) => {
          await run(big);
          return smalls(run);
        });
      } else if (c === 'small-fresh') {
        await db.checkpoint();
        await session(`${c}-prep`, (run) => run(big));
        result = await session(c, smalls);
      } else if (c === 'big-after-small') {
        result = await session(c, async (run) => {
          await run(small, [1]);
          await db.checkpoint();
          return timed(() => run(big));
        });
      } else {
        await session(`${c}-prep`, (run) => run(small, [1]));
        await db.checkpoint();
        result = await session(c, (run) => timed(() => run(big)));
      }
      if (!result.timedOut) {
        await verifier.check(db, {
          label: `plan-cache hazard ${c} (repetition ${rep})`,
          op: 'update',
          audit: { changes, transactions: statements },
          floor: NONE,
        });
      }
      runs.push({ rep, case: c, ...result });
      log(
        `hazard rep ${rep}/${o.reps} ${c.padEnd(15)} ${result.ms.toFixed(c.startsWith('small') ? 2 : 0).padStart(8)} ms${result.timedOut ? ' (timed out)' : ''}`,
      );
    }
  }
  return runs;
}
