import type { AuditCounts, BenchDb } from './db.js';
import type { TableKind } from './schema.js';

export class VerificationError extends Error {}

export interface Expectation {
  label: string;
  kind: TableKind;
  /** Audit op of the changes ('insert' | 'update'). */
  op: string;
  changes: number;
  transactions: number;
}

/**
 * Checks, after every run, that capture wrote exactly one audit_changes row per changed row and
 * one audit transaction per bound transaction, each carrying the bound actor and correlation id,
 * and that the plain and floor variants wrote no audit rows. Throws on the first mismatch.
 */
export class Verifier {
  auditedRuns = 0;
  otherRuns = 0;
  changes = 0;
  transactions = 0;

  async check(db: BenchDb, e: Expectation): Promise<AuditCounts> {
    const c = await db.auditCounts(e.op);
    const problems: string[] = [];
    const expect = (what: string, actual: number, wanted: number) => {
      if (actual !== wanted) problems.push(`${what}: ${actual}, expected ${wanted}`);
    };
    if (e.kind === 'audit') {
      expect('audit_changes rows', c.changes, e.changes);
      expect(`audit_changes rows with op ${e.op}`, c.opChanges, e.changes);
      if (e.op === 'update') expect("update rows with changed_fields = '{status}'", c.statusOnly, e.changes);
      expect('audit_transactions rows', c.transactions, e.transactions);
      expect('audit_transactions rows carrying the bound actor', c.withActor, e.transactions);
      expect('audit_transactions rows carrying the bound correlation id', c.withCorrelation, e.transactions);
      expect('audit_changes rows without their audit transaction', c.orphans, 0);
      this.auditedRuns++;
      this.changes += c.changes;
      this.transactions += c.transactions;
    } else {
      expect('audit_changes rows', c.changes, 0);
      expect('audit_transactions rows', c.transactions, 0);
      this.otherRuns++;
    }
    if (e.kind === 'floor') {
      expect('floor_changes rows', c.floorChanges, e.changes);
      expect('floor_transactions rows', c.floorTransactions, e.transactions);
    }
    if (problems.length > 0) {
      throw new VerificationError(`correctness check failed after ${e.label}:\n  ${problems.join('\n  ')}`);
    }
    return c;
  }

  summary(): string {
    return (
      `Correctness: OK - ${this.auditedRuns} audited runs: audit_changes rows = rows changed ` +
      `(${this.changes.toLocaleString('en-US')} changes), every audit transaction ` +
      `(${this.transactions.toLocaleString('en-US')}) carries the bound actor {"type":"user","id":"7"} and ` +
      `correlation id, no orphan changes; UPDATE rows list exactly {status}; ` +
      `${this.otherRuns} plain/floor runs wrote no audit rows.`
    );
  }
}
