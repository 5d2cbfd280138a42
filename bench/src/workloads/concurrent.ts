import { performance } from 'node:perf_hooks';
import { createThreadline } from '@threadline/core';
import type pg from 'pg';
import { type BenchDb, boundQuery, log } from '../db.js';
import type { BenchOptions } from '../options.js';
import { rowSql, type TableKind } from '../schema.js';
import { prng, shuffle } from '../stats.js';
import type { Verifier } from '../verify.js';

export type ConcurrentVariant = 'plain' | 'capture' | 'floor';
export const CONCURRENT_VARIANTS: ConcurrentVariant[] = ['plain', 'capture', 'floor'];
const KIND: Record<ConcurrentVariant, TableKind> = { plain: 'plain', capture: 'audit', floor: 'floor' };

export interface ConcurrentRun {
  rep: number;
  variant: ConcurrentVariant;
  seconds: number;
  commits: number;
  failures: number;
  tps: number;
}

/**
 * `clients` async workers share a pg Pool of the same size; each loops over single-row UPDATE
 * transactions (tl.transaction with the context binding) on random ids for `seconds`. Every
 * variant binds the context, so only capture (or the floor's own audit writes) differs.
 */
export async function runConcurrent(
  db: BenchDb,
  o: BenchOptions,
  verifier: Verifier,
): Promise<ConcurrentRun[]> {
  const random = prng(o.seed + 2);
  const runs: ConcurrentRun[] = [];
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const variant of shuffle(CONCURRENT_VARIANTS, random)) {
      const kind = KIND[variant];
      const sql = rowSql('update', kind);
      await db.reset(kind, o.rows);
      await db.checkpoint();
      const pool = db.pool(o.clients);
      let commits = 0;
      let failures = 0;
      const errors = new Map<string, number>();
      let elapsed: number;
      try {
        // Open every connection before the clock starts.
        const warm: pg.PoolClient[] = [];
        for (let i = 0; i < o.clients; i++) warm.push(await pool.connect());
        for (const c of warm) c.release();
        const tl = createThreadline({ db: pool });
        const t0 = performance.now();
        const deadline = t0 + o.seconds * 1000;
        const worker = async (w: number) => {
          const next = prng(o.seed * 1000 + w);
          let n = 0;
          while (performance.now() < deadline) {
            const id = 1 + Math.floor(next() * o.rows);
            try {
              await boundQuery(tl, `bench-conc-${w}-${n++}`, sql, [id]);
              commits++;
            } catch (error) {
              failures++;
              const code = String((error as { code?: string }).code ?? (error as Error).message);
              errors.set(code, (errors.get(code) ?? 0) + 1);
            }
          }
        };
        await Promise.all(Array.from({ length: o.clients }, (_, w) => worker(w)));
        elapsed = (performance.now() - t0) / 1000;
      } finally {
        await pool.end();
      }
      if (failures > 0)
        log(`concurrent ${variant}: ${failures} failed transactions: ${JSON.stringify([...errors])}`);
      await verifier.check(db, {
        label: `${o.clients}-client UPDATEs (${variant}, repetition ${rep})`,
        kind,
        op: 'update',
        changes: commits,
        transactions: commits,
      });
      const tps = commits / elapsed;
      runs.push({ rep, variant, seconds: elapsed, commits, failures, tps });
      log(
        `concurrent rep ${rep}/${o.reps} ${variant.padEnd(7)} ${tps.toFixed(0).padStart(6)} tps (${commits} commits)`,
      );
    }
  }
  return runs;
}
