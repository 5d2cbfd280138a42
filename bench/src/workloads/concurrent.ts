import { performance } from 'node:perf_hooks';
import { createThreadline, type Threadline } from '@threadline/core';
import type pg from 'pg';
import { type BenchDb, boundQuery, log } from '../db.js';
import type { BenchOptions } from '../options.js';
import { rowSql, type TableKind } from '../schema.js';
import { prng, shuffle } from '../stats.js';
import type { Verifier } from '../verify.js';

export type ConcurrentVariant = 'plain' | 'capture' | 'floor' | 'invoker';
const CONCURRENT_VARIANTS: ConcurrentVariant[] = ['plain', 'capture', 'floor'];
const KIND: Record<ConcurrentVariant, TableKind> = {
  plain: 'plain',
  capture: 'audit',
  floor: 'floor',
  invoker: 'invoker',
};

export interface ConcurrentRun {
  rep: number;
  variant: ConcurrentVariant;
  seconds: number;
  commits: number;
  failures: number;
  tps: number;
}

/** Each variant's --seconds are split into windows of this length, alternating in shuffled order. */
const WINDOW_SECONDS = 5;

interface Lane {
  variant: ConcurrentVariant;
  pool: pg.Pool;
  tl: Threadline;
  sql: string;
  /** One id generator per worker, continued across windows (the same sequences for every variant). */
  ids: (() => number)[];
  seconds: number;
  commits: number;
  failures: number;
  errors: Map<string, number>;
}

/**
 * `clients` async workers share a pg Pool of the same size; each loops over single-row UPDATE
 * transactions (tl.transaction with the context binding) on random ids. Every variant binds the
 * context, so only capture (or the floor's own audit writes) differs. Each variant has its own
 * pool and table; their windows alternate in shuffled order so machine noise hits all alike.
 */
export async function runConcurrent(
  db: BenchDb,
  o: BenchOptions,
  verifier: Verifier,
): Promise<ConcurrentRun[]> {
  const random = prng(o.seed + 2);
  const runs: ConcurrentRun[] = [];
  const variants: ConcurrentVariant[] = o.compareInvoker
    ? [...CONCURRENT_VARIANTS, 'invoker']
    : CONCURRENT_VARIANTS;
  for (let rep = 1; rep <= o.reps; rep++) {
    await db.reset(
      variants.map((v) => KIND[v]),
      o.rows,
    );
    await db.checkpoint();
    const lanes: Lane[] = [];
    try {
      for (const variant of variants) {
        const pool = db.pool(o.clients);
        // Open every connection before the clock starts.
        const warm: pg.PoolClient[] = [];
        for (let i = 0; i < o.clients; i++) warm.push(await pool.connect());
        for (const c of warm) c.release();
        lanes.push({
          variant,
          pool,
          tl: createThreadline({ db: pool }),
          sql: rowSql('update', KIND[variant]),
          ids: Array.from({ length: o.clients }, (_, w) => {
            const next = prng(o.seed * 1000 + w);
            return () => 1 + Math.floor(next() * o.rows);
          }),
          seconds: 0,
          commits: 0,
          failures: 0,
          errors: new Map(),
        });
      }
      for (let done = 0; done < o.seconds; done += WINDOW_SECONDS) {
        const window = Math.min(WINDOW_SECONDS, o.seconds - done);
        for (const lane of shuffle(lanes, random)) await runWindow(lane, window, o.clients, rep);
      }
    } finally {
      for (const lane of lanes) await lane.pool.end().catch(() => undefined);
    }
    const commits = (v: ConcurrentVariant) => lanes.find((l) => l.variant === v)?.commits ?? 0;
    await verifier.check(db, {
      label: `${o.clients}-client UPDATEs (repetition ${rep})`,
      op: 'update',
      audit: {
        changes: commits('capture') + commits('invoker'),
        transactions: commits('capture') + commits('invoker'),
      },
      floor: { changes: commits('floor'), transactions: commits('floor') },
    });
    for (const lane of lanes) {
      if (lane.failures > 0) {
        log(
          `concurrent ${lane.variant}: ${lane.failures} failed transactions: ${JSON.stringify([...lane.errors])}`,
        );
      }
      const tps = lane.commits / lane.seconds;
      runs.push({
        rep,
        variant: lane.variant,
        seconds: lane.seconds,
        commits: lane.commits,
        failures: lane.failures,
        tps,
      });
    }
    log(
      `concurrent rep ${rep}/${o.reps}: ${runs
        .filter((r) => r.rep === rep)
        .map((r) => `${r.variant} ${r.tps.toFixed(0)} tps`)
        .join(', ')}`,
    );
  }
  return runs;
}

async function runWindow(lane: Lane, seconds: number, clients: number, rep: number): Promise<void> {
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async (w: number) => {
    const nextId = lane.ids[w]!;
    let n = 0;
    while (performance.now() < deadline) {
      try {
        await boundQuery(lane.tl, `bench-conc-${rep}-${w}-${lane.commits}-${n++}`, lane.sql, [nextId()]);
        lane.commits++;
      } catch (error) {
        lane.failures++;
        const code = String((error as { code?: string }).code ?? (error as Error).message);
        lane.errors.set(code, (lane.errors.get(code) ?? 0) + 1);
      }
    }
  };
  await Promise.all(Array.from({ length: clients }, (_, w) => worker(w)));
  lane.seconds += (performance.now() - t0) / 1000;
}
