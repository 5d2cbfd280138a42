import { performance } from 'node:perf_hooks';
import { createThreadline, type Threadline } from '@threadline/core';
import type pg from 'pg';
import { type BenchDb, boundQuery, log } from '../db.js';
import type { BenchOptions } from '../options.js';
import { insertParams, type RowOp, rowSql, type TableKind } from '../schema.js';
import { idSequence, prng, shuffle } from '../stats.js';
import type { Verifier } from '../verify.js';

/**
 * (a) pg: plain table, node-postgres BEGIN; stmt; COMMIT (three round trips, no binding);
 * (b) bound: plain table through tl.transaction with the context binding (no trigger);
 * (c) capture: audited table through tl.transaction with the binding;
 * (d) floor: tl.transaction with the binding; the statement writes its own audit rows (CTE).
 */
export type SingleVariant = 'pg' | 'bound' | 'capture' | 'floor' | 'invoker';
export const SINGLE_OPS: RowOp[] = ['insert', 'update'];
const SINGLE_VARIANTS: SingleVariant[] = ['pg', 'bound', 'capture', 'floor'];
const KIND: Record<SingleVariant, TableKind> = {
  pg: 'plain',
  bound: 'bound',
  capture: 'audit',
  floor: 'floor',
  invoker: 'invoker',
};
/** Transactions per variant per block; blocks of the four variants alternate in shuffled order. */
const BLOCK = 250;

export interface SingleRun {
  rep: number;
  op: RowOp;
  variant: SingleVariant;
  ms: number;
  txns: number;
  auditBytes: number;
}

interface Lane {
  variant: SingleVariant;
  client: pg.Client;
  tl: Threadline;
  sql: string;
  ms: number;
}

/**
 * Single-row transactions, one client per variant. Each variant has its own table (loaded with
 * the same rows); the four run in alternating blocks of BLOCK transactions in shuffled order, so
 * a slow minute on a shared machine hits every variant alike. Each variant's time is the sum of
 * its blocks.
 */
export async function runSingle(db: BenchDb, o: BenchOptions, verifier: Verifier): Promise<SingleRun[]> {
  const random = prng(o.seed + 1);
  // The same rows, in the same order, for every variant and repetition.
  const ids = idSequence(o.seed, o.txns, o.rows);
  const inserts = Array.from({ length: o.txns }, (_, i) => insertParams(i));
  const runs: SingleRun[] = [];
  const variants: SingleVariant[] = o.compareInvoker ? [...SINGLE_VARIANTS, 'invoker'] : SINGLE_VARIANTS;
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const op of shuffle(SINGLE_OPS, random)) {
      await db.reset(
        variants.map((v) => KIND[v]),
        o.rows,
      );
      await db.checkpoint();
      const lanes: Lane[] = [];
      try {
        for (const variant of variants) {
          const client = await db.connect(`single-${op}-${variant}`);
          lanes.push({
            variant,
            client,
            tl: createThreadline({ db: client }),
            sql: rowSql(op, KIND[variant]),
            ms: 0,
          });
        }
        const t0 = performance.now();
        for (let start = 0; start < o.txns; start += BLOCK) {
          const end = Math.min(o.txns, start + BLOCK);
          for (const lane of shuffle(lanes, random)) {
            const b0 = performance.now();
            for (let i = start; i < end; i++) {
              const params = op === 'insert' ? inserts[i]! : [ids[i]!];
              let changed: number;
              if (lane.variant === 'pg') {
                await lane.client.query('BEGIN');
                changed = (await lane.client.query(lane.sql, params)).rowCount ?? 0;
                await lane.client.query('COMMIT');
              } else {
                changed = await boundQuery(lane.tl, `bench-single-${i}`, lane.sql, params);
              }
              if (changed !== 1)
                throw new Error(`single-row ${op} (${lane.variant}) changed ${changed} rows, expected 1`);
            }
            lane.ms += performance.now() - b0;
          }
          if (end % (BLOCK * 8) === 0 || end === o.txns) {
            const elapsed = (performance.now() - t0) / 1000;
            log(`single rep ${rep}/${o.reps} ${op}: ${end}/${o.txns} per variant (${elapsed.toFixed(0)} s)`);
          }
        }
      } finally {
        for (const lane of lanes) await lane.client.end().catch(() => undefined);
      }
      const each = { changes: o.txns, transactions: o.txns };
      const audited = o.compareInvoker ? 2 * o.txns : o.txns;
      const counts = await verifier.check(db, {
        label: `single-row ${op} transactions (repetition ${rep})`,
        op,
        audit: { changes: audited, transactions: audited },
        floor: each,
      });
      for (const lane of lanes) {
        const auditBytes =
          lane.variant === 'capture' || lane.variant === 'invoker'
            ? counts.auditBytes / (o.compareInvoker ? 2 : 1)
            : lane.variant === 'floor'
              ? counts.floorBytes
              : 0;
        runs.push({ rep, op, variant: lane.variant, ms: lane.ms, txns: o.txns, auditBytes });
      }
      log(
        `single rep ${rep}/${o.reps} ${op}: ${lanes.map((l) => `${l.variant} ${((o.txns / l.ms) * 1000).toFixed(0)} tps`).join(', ')}`,
      );
    }
  }
  return runs;
}
