import { performance } from 'node:perf_hooks';
import { createThreadline } from '@threadline/core';
import { type BenchDb, boundQuery, log } from '../db.js';
import type { BenchOptions } from '../options.js';
import { type BulkOp, bulkSql, FIXTURES, type Fixture, type TableKind } from '../schema.js';
import { prng, shuffle } from '../stats.js';
import { NONE, type Verifier } from '../verify.js';

export type BulkVariant = 'plain' | 'capture' | 'floor' | 'anchor';
export const BULK_OPS: BulkOp[] = ['insert', 'update', 'delete'];
export const BULK_VARIANTS: BulkVariant[] = ['plain', 'capture', 'floor', 'anchor'];
const KIND: Record<BulkVariant, TableKind> = {
  plain: 'plain',
  capture: 'audit',
  floor: 'floor',
  anchor: 'anchor',
};

export interface BulkRun {
  rep: number;
  fixture: Fixture;
  op: BulkOp;
  variant: BulkVariant;
  ms: number;
  rows: number;
  /** WAL written server-wide during the run (JSON only: other databases' activity is included). */
  walBytes: number;
  /** Bytes of the audit tables (capture, anchor) or of the floor's tables (floor) after the run. */
  auditBytes: number;
}

/**
 * Bulk statements: one INSERT ... SELECT generate_series, UPDATE of one column, or DELETE of all
 * rows, each as the only statement of a transaction that binds the audit context, timed from
 * the client on a fresh connection after a reload and a CHECKPOINT.
 */
export async function runBulk(db: BenchDb, o: BenchOptions, verifier: Verifier): Promise<BulkRun[]> {
  const random = prng(o.seed);
  const runs: BulkRun[] = [];
  const combos = FIXTURES.flatMap((fixture) =>
    BULK_OPS.flatMap((op) => BULK_VARIANTS.map((variant) => ({ fixture, op, variant }))),
  );
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const { fixture, op, variant } of shuffle(combos, random)) {
      const kind = KIND[variant];
      await db.reset(kind, op === 'insert' ? 0 : o.rows, fixture);
      await db.checkpoint();
      const client = await db.connect(`bulk-${fixture}-${op}-${variant}`);
      let ms: number;
      let rows: number;
      const lsn = await db.walLsn();
      try {
        const tl = createThreadline({ db: client });
        const t0 = performance.now();
        rows = await boundQuery(
          tl,
          `bench-bulk-${rep}-${fixture}-${op}-${variant}`,
          bulkSql(op, kind, o.rows, fixture),
        );
        ms = performance.now() - t0;
      } finally {
        await client.end();
      }
      const walBytes = await db.walSince(lsn);
      if (rows !== o.rows)
        throw new Error(`bulk ${fixture} ${op} (${variant}) changed ${rows} rows, expected ${o.rows}`);
      const one = { changes: rows, transactions: 1 };
      const counts = await verifier.check(db, {
        label: `bulk ${fixture} ${op} (${variant}, repetition ${rep})`,
        op,
        audit: variant === 'capture' ? one : NONE,
        floor: variant === 'floor' ? one : NONE,
        anchor: variant === 'anchor' ? one : NONE,
      });
      const auditBytes = {
        capture: counts.auditBytes,
        floor: counts.floorBytes,
        anchor: counts.anchorBytes,
        plain: 0,
      }[variant];
      runs.push({ rep, fixture, op, variant, ms, rows, walBytes, auditBytes });
      log(
        `bulk rep ${rep}/${o.reps} ${fixture.padEnd(5)} ${op.padEnd(6)} ${variant.padEnd(7)} ${ms.toFixed(0).padStart(7)} ms`,
      );
    }
  }
  return runs;
}
