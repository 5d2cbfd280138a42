import { describe, expect, it } from 'vitest';
import { analyzeCapture } from '../src/health/analyze.js';
import type { CatalogSnapshot } from '../src/health/catalog.js';

// The replica case needs a logical-replication subscription (wal_level = logical), which the
// shared test server does not have; the analysis is pure, so it is checked on the catalog rows
// such a database returns.
const SUB = [{ name: 'orders_sub', publications: ['orders_pub', 'more"pub'] }];
const snapshot = (
  enabled: string,
  subscriptions: { name: string; publications: string[] }[],
): CatalogSnapshot => ({
  relations: [
    {
      oid: '100',
      schema: 'public',
      name: 'orders',
      isPartition: false,
      root: null,
      primaryKey: ['id'],
      columns: { '1': 'id' },
      subscriptions,
    },
  ],
  triggers: [
    ...(['insert', 'update', 'delete', 'truncate'] as const).map((op, i) => ({
      relid: '100',
      name: `threadline_capture_${op}`,
      enabled,
      type: [4, 16, 8, 32][i]!,
      functionSchema: 'threadline',
      functionName: 'capture_public_orders_abc',
    })),
    // The statement-start trigger every captured table has (BEFORE INSERT OR UPDATE OR DELETE).
    {
      relid: '100',
      name: 'threadline_capture_before',
      enabled,
      type: 30,
      functionSchema: 'threadline',
      functionName: 'capture_statement_start',
    },
  ],
  registry: [
    {
      relid: '100',
      schema: 'public',
      name: 'orders',
      keyColumns: ['id'],
      columns: { '1': 'id' },
      options: { primaryKey: null },
      functionName: 'capture_public_orders_abc',
      mode: 'compiled',
    },
  ],
});

describe('analyzeCapture', () => {
  it('reports replica_mode_gap on a table a subscription writes without the audit tables, whatever the trigger state, with the publisher-side fix', () => {
    const fix = [
      'on the publisher: threadline gen-triggers --tables orders --apply;',
      'ALTER PUBLICATION "orders_pub" ADD TABLE "threadline"."audit_transactions", "threadline"."audit_changes", "threadline"."audit_actions";',
      'ALTER PUBLICATION "more""pub" ADD TABLE "threadline"."audit_transactions", "threadline"."audit_changes", "threadline"."audit_actions";',
      'then on this database:',
      'ALTER SUBSCRIPTION "orders_sub" REFRESH PUBLICATION;',
    ].join(' ');
    // The apply worker fires no statement-level trigger for replicated rows: ENABLE ALWAYS or
    // REPLICA does not close the gap (replication-cutover.heavy.test.ts shows it on real clusters).
    for (const enabled of ['O', 'A', 'R']) {
      const { findings, covered } = analyzeCapture(snapshot(enabled, SUB), 'threadline');
      expect(findings.filter((f) => f.code === 'replica_mode_gap')).toEqual([
        {
          code: 'replica_mode_gap',
          severity: 'warning',
          schema: 'public',
          table: 'orders',
          message:
            "orders is written by logical-replication subscription(s) orders_sub, whose writes its capture triggers do not record (the apply worker fires no statement-level trigger for replicated inserts, updates and deletes, whatever the trigger's ENABLE state); capture it on the publisher and replicate the audit tables with it",
          fix,
        },
      ]);
      if (enabled !== 'R') expect(findings).toHaveLength(1);
      if (enabled !== 'R') expect(covered.get('100')).toBe(true);
    }
  });

  it('has no replica gap on a table no subscription writes (or whose subscription brings the audit tables too)', () => {
    expect(analyzeCapture(snapshot('O', []), 'threadline').findings).toEqual([]);
  });
});
