import type { SqlClient } from '../db/sql-client.js';
import { integritySql } from './integrity-sql.js';

export interface Watermark {
  id: string;
  changes: string;
  transactions: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Record where both id sequences stand, then (in a later statement, so after it) the snapshot.
 * Every id at or below the recorded positions was allocated by a transaction that already had a
 * transaction id (capture calls txid_current() before it allocates one), so each such transaction
 * had either ended when the snapshot was taken or is in the snapshot's in-progress list.
 */
export async function recordWatermark(client: SqlClient, q: string): Promise<string> {
  const sql = integritySql(q);
  const bounds = await client.query<{ changes: string; transactions: string }>(sql.sequenceBounds, [
    `${q}.audit_changes`,
    `${q}.audit_transactions`,
  ]);
  const { changes, transactions } = bounds.rows[0]!;
  const { rows } = await client.query<{ id: string }>(sql.recordWatermark, [changes, transactions]);
  return rows[0]!.id;
}

/**
 * The newest watermark whose in-progress transactions have all ended: below it no transaction can
 * still commit a row. Waits up to `waitMs` for `wanted` (the watermark just recorded) to settle,
 * then takes the newest settled one, possibly older, or null.
 */
export async function settledWatermark(
  client: SqlClient,
  q: string,
  wanted: string,
  waitMs: number,
): Promise<{ settled: Watermark | null; openTransactions: number }> {
  const sql = integritySql(q);
  const deadline = Date.now() + waitMs;
  let pause = 5;
  for (;;) {
    const { rows } = await client.query<Watermark>(sql.settledWatermark);
    const settled = rows[0] ?? null;
    if ((settled && BigInt(settled.id) >= BigInt(wanted)) || Date.now() >= deadline) {
      const open =
        settled && BigInt(settled.id) >= BigInt(wanted) ? 0 : await openTransactions(client, q, wanted);
      return { settled, openTransactions: open };
    }
    await sleep(Math.min(pause, Math.max(1, deadline - Date.now())));
    pause = Math.min(pause * 2, 200);
  }
}

async function openTransactions(client: SqlClient, q: string, id: string): Promise<number> {
  const { rows } = await client.query<{ n: number }>(integritySql(q).openOf, [id]);
  return Number(rows[0]?.n ?? 0);
}
