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
 *   small-fresh:     the same kind of 1-row UPDATEs in a new session opened after it; the two
 *                    sessions take turns statement by statement, so noise hits both alike;
 *   big-after-small: a 100k-row UPDATE in the session that just ran a 1-row UPDATE;
 *   big-fresh:       the same 100k-row UPDATE in a new session (the 1-row UPDATE ran in another one).
 * Both sides of a pair see the same table state; only the session (and so its cached plan) differs.
 * 1-row times are the median of SMALL_STATEMENTS statements per session (each its own bound transaction).
 */
export type HazardCase = 'small-after-big' | 'small-fresh' | 'big-after-small' | 'big-fresh';
type HazardRunKind = 'small-pair' | 'big-after-small' | 'big-fresh';
const SMALL_STATEMENTS = 21;
/** A pathological plan is cut off here and reported as "at least". */
const TIMEOUT_MS = 300_000;

export interface HazardRun {
  rep: number;
  case: HazardCase;
  ms: number;
  timedOut: boolean;
}

interface Timing {
  ms: number;
  timedOut: boolean;
}

type Run = (sql: string, params?: unknown[]) => Promise<number>;

export async function runHazard(db: BenchDb, o: BenchOptions, verifier: Verifier): Promise<HazardRun[]> {
  const random = prng(o.seed + 3);
  const big = bulkSql('update', 'audit', o.rows);
  const small = rowSql('update', 'audit');
  const runs: HazardRun[] = [];
  let statements = 0;
  let changes = 0;
  const open = async (role: string): Promise<{ run: Run; close: () => Promise<void> }> => {
    const client: pg.Client = await db.connect(`hazard-${role}`, TIMEOUT_MS);
    const tl = createThreadline({ db: client });
    return {
      run: async (sql, params) => {
        const n = await boundQuery(tl, `bench-hazard-${statements}`, sql, params);
        statements++;
        changes += n;
        return n;
      },
      close: () => client.end(),
    };
  };
  const timed = async (fn: () => Promise<unknown>): Promise<Timing> => {
    const t0 = performance.now();
    try {
      await fn();
      return { ms: performance.now() - t0, timedOut: false };
    } catch (error) {
      if ((error as { code?: string }).code !== '57014') throw error;
      return { ms: performance.now() - t0, timedOut: true };
    }
  };

  /** 1-row UPDATEs alternating between the session that ran the big UPDATE and a fresh one. */
  const smallPair = async (): Promise<Record<'small-after-big' | 'small-fresh', Timing>> => {
    const same = await open('small-after-big');
    let fresh: Awaited<ReturnType<typeof open>> | undefined;
    try {
      await db.checkpoint();
      await same.run(big);
      fresh = await open('small-fresh');
      const sides = { 'small-after-big': same, 'small-fresh': fresh };
      const times: Record<keyof typeof sides, number[]> = { 'small-after-big': [], 'small-fresh': [] };
      for (let i = 1; i <= SMALL_STATEMENTS; i++) {
        for (const side of shuffle(['small-after-big', 'small-fresh'] as const, random)) {
          // Distinct rows per side, each changed from the same state.
          const id = side === 'small-after-big' ? i : SMALL_STATEMENTS + i;
          const t = await timed(() => sides[side].run(small, [id]));
          if (t.timedOut) {
            const other = side === 'small-after-big' ? 'small-fresh' : 'small-after-big';
            return { [side]: t, [other]: { ms: median(times[other]), timedOut: false } } as Record<
              keyof typeof sides,
              Timing
            >;
          }
          times[side].push(t.ms);
        }
      }
      return {
        'small-after-big': { ms: median(times['small-after-big']), timedOut: false },
        'small-fresh': { ms: median(times['small-fresh']), timedOut: false },
      };
    } finally {
      await same.close();
      await fresh?.close();
    }
  };

  const bigAfterSmall = async (): Promise<Timing> => {
    const s = await open('big-after-small');
    try {
      await s.run(small, [1]);
      await db.checkpoint();
      return await timed(() => s.run(big));
    } finally {
      await s.close();
    }
  };

  const bigFresh = async (): Promise<Timing> => {
    const prep = await open('big-fresh-prep');
    await prep.run(small, [1]).finally(() => prep.close());
    await db.checkpoint();
    const s = await open('big-fresh');
    try {
      return await timed(() => s.run(big));
    } finally {
      await s.close();
    }
  };

  const kinds: HazardRunKind[] = ['small-pair', 'big-after-small', 'big-fresh'];
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const kind of shuffle(kinds, random)) {
      await db.reset('audit', o.rows);
      statements = 0;
      changes = 0;
      const results: Partial<Record<HazardCase, Timing>> =
        kind === 'small-pair'
          ? await smallPair()
          : kind === 'big-after-small'
            ? { 'big-after-small': await bigAfterSmall() }
            : { 'big-fresh': await bigFresh() };
      const timedOut = Object.values(results).some((r) => r.timedOut);
      if (!timedOut) {
        await verifier.check(db, {
          label: `plan-cache hazard ${kind} (repetition ${rep})`,
          op: 'update',
          audit: { changes, transactions: statements },
          floor: NONE,
        });
      }
      for (const [c, r] of Object.entries(results) as [HazardCase, Timing][]) {
        runs.push({ rep, case: c, ...r });
        const digits = c.startsWith('small') ? 2 : 0;
        log(
          `hazard rep ${rep}/${o.reps} ${c.padEnd(15)} ${r.ms.toFixed(digits).padStart(8)} ms${r.timedOut ? ' (timed out)' : ''}`,
        );
      }
    }
  }
  return runs;
}
