/** Runs one statement with bound parameters and returns its rows. */
export type Run = <R>(sql: string, params: unknown[]) => Promise<R[]>;

/** Builds `$n` placeholders while collecting parameters. */
export class Params {
  readonly values: unknown[] = [];
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Conditions shared by every change list: time window and keyset cursor (newest first). */
export function windowAndCursor(
  p: Params,
  window: { from: string | null; to: string | null },
  after: { capturedAt: string; id: string } | null,
): string[] {
  const where: string[] = [];
  if (window.from) where.push(`c.captured_at >= ${p.add(window.from)}::timestamptz`);
  if (window.to) where.push(`c.captured_at <= ${p.add(window.to)}::timestamptz`);
  if (after)
    where.push(
      `(c.captured_at, c.id) < (${p.add(after.capturedAt)}::timestamptz, ${p.add(after.id)}::bigint)`,
    );
  return where;
}

/**
 * Joins each change row `c` to its transaction `t` one primary-key lookup at a time. A plain JOIN
 * lets the planner hash the whole audit_transactions table for a 50-row page once it is small
 * enough to look cheap, which makes page cost grow with the number of transactions.
 */
export const transactionOf = (q: string, columns = 't.actor_ref, t.correlation_id') =>
  `CROSS JOIN LATERAL (SELECT ${columns} FROM ${q}.audit_transactions t WHERE t.id = c.transaction_id OFFSET 0) t`;
