import { performance } from 'node:perf_hooks';
import { createThreadline } from '@threadline/core';
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
export type SingleVariant = 'pg' | 'bound' | 'capture' | 'floor';
export const SINGLE_OPS: RowOp[] = ['insert', 'update'];
export const SINGLE_VARIANTS: SingleVariant[] = ['pg', 'bound', 'capture', 'floor'];
const KIND: Record<SingleVariant, TableKind> = {
  pg: 'plain',
  bound: 'plain',
  capture: 'audit',
  floor: 'floor',
};

export interface SingleRun {
  rep: number;
  op: RowOp;
  variant: SingleVariant;
  ms: number;
  txns: number;
  walBytes: number;
  auditBytes: number;
}

export async function runSingle(db: BenchDb, o: BenchOptions, verifier: Verifier): Promise<SingleRun[]> {
  const random = prng(o.seed + 1);
  // The same rows, in the same order, for every variant and repetition.
  const ids = idSequence(o.seed, o.txns, o.rows);
  const inserts = Array.from({ length: o.txns }, (_, i) => insertParams(i));
  const runs: SingleRun[] = [];
  const combos = SINGLE_OPS.flatMap((op) => SINGLE_VARIANTS.map((variant) => ({ op, variant })));
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const { op, variant } of shuffle(combos, random)) {
      const kind = KIND[variant];
      const sql = rowSql(op, kind);
      await db.reset(kind, o.rows);
      await db.checkpoint();
      const client = await db.connect(`single-${op}-${variant}`);
      const lsn = await db.walLsn();
      let ms: number;
      try {
        const tl = createThreadline({ db: client });
        const t0 = performance.now();
        for (let i = 0; i < o.txns; i++) {
          const params = op === 'insert' ? inserts[i]! : [ids[i]!];
          let changed: number;
          if (variant === 'pg') {
            await client.query('BEGIN');
            changed = (await client.query(sql, params)).rowCount ?? 0;
            await client.query('COMMIT');
          } else {
            changed = await boundQuery(tl, `bench-single-${i}`, sql, params);
          }
          if (changed !== 1)
            throw new Error(`single-row ${op} (${variant}) changed ${changed} rows, expected 1`);
        }
        ms = performance.now() - t0;
      } finally {
        await client.end();
      }
      const walBytes = await db.walSince(lsn);
      const counts = await verifier.check(db, {
        label: `single-row ${op} transactions (${variant}, repetition ${rep})`,
        kind,
        op,
        changes: o.txns,
        transactions: o.txns,
      });
      const auditBytes =
        variant === 'capture' ? counts.auditBytes : variant === 'floor' ? counts.floorBytes : 0;
      runs.push({ rep, op, variant, ms, txns: o.txns, walBytes, auditBytes });
      const tps = (o.txns / ms) * 1000;
      log(
        `single rep ${rep}/${o.reps} ${op.padEnd(6)} ${variant.padEnd(7)} ${ms.toFixed(0).padStart(7)} ms  ${tps.toFixed(0)} tps`,
      );
    }
  }
  return runs;
}
