import type { AuditCounts, BenchDb } from './db.js';

class VerificationError extends Error {}

export interface Expected {
  changes: number;
  transactions: number;
}

export interface Expectation {
  label: string;
  /** Audit op of the changes ('insert' | 'update' | 'delete'). */
  op: string;
  /** What capture should have written (zero when no audited variant ran). */
  audit: Expected;
  /** What the floor variant should have written in its own tables. */
  floor: Expected;
  /** What the anchor-style triggers should have written (default: nothing). */
  anchor?: Expected;
}

export const NONE: Expected = { changes: 0, transactions: 0 };

/**
 * Checks, after every run, that capture wrote exactly one audit_changes row per changed row and
 * one audit transaction per bound transaction, each carrying the bound actor and correlation id,
 * that the floor wrote one row per change, and that nothing else wrote audit rows (the plain
 * variants must not). Throws on the first mismatch.
 */
export class Verifier {
  checkedRuns = 0;
  changes = 0;
  transactions = 0;

  async check(db: BenchDb, e: Expectation): Promise<AuditCounts> {
    const c = await db.auditCounts(e.op);
    const problems: string[] = [];
    const expect = (what: string, actual: number, wanted: number) => {
      if (actual !== wanted) problems.push(`${what}: ${actual}, expected ${wanted}`);
    };
    expect('audit_changes rows', c.changes, e.audit.changes);
    expect(`audit_changes rows with op ${e.op}`, c.opChanges, e.audit.changes);
    if (e.op === 'update')
      expect("update rows with changed_fields = '{status}'", c.statusOnly, e.audit.changes);
    expect('audit_transactions rows', c.transactions, e.audit.transactions);
    expect('audit_transactions rows carrying the bound actor', c.withActor, e.audit.transactions);
    expect(
      'audit_transactions rows carrying the bound correlation id',
      c.withCorrelation,
      e.audit.transactions,
    );
    expect('audit_changes rows without their audit transaction', c.orphans, 0);
    expect('floor_changes rows', c.floorChanges, e.floor.changes);
    expect('floor_transactions rows', c.floorTransactions, e.floor.transactions);
    expect('anchor changes rows', c.anchorChanges, (e.anchor ?? NONE).changes);
    expect('anchor transactions rows', c.anchorTransactions, (e.anchor ?? NONE).transactions);
    if (problems.length > 0) {
      throw new VerificationError(`correctness check failed after ${e.label}:\n  ${problems.join('\n  ')}`);
    }
    this.checkedRuns++;
    this.changes += c.changes;
    this.transactions += c.transactions;
    return c;
  }

  summary(): string {
    return (
      `Correctness: OK - checked after each of ${this.checkedRuns} runs: audit_changes rows = rows changed ` +
      `(${this.changes.toLocaleString('en-US')} changes), every audit transaction ` +
      `(${this.transactions.toLocaleString('en-US')}) carries the bound actor {"type":"user","id":"7"} and ` +
      `correlation id, no orphan changes; UPDATE rows list exactly {status}; plain variants wrote no audit rows.`
    );
  }
}
