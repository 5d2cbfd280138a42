import { describe, expect, it } from 'vitest';
import { analyzeCapture } from '../src/health/analyze.js';
import type { CatalogSnapshot } from '../src/health/catalog.js';

// The replica case needs a logical-replication subscription (wal_level = logical), which the
// shared test server does not have; the analysis is pure, so it is checked on the catalog rows
// such a database returns.
const snapshot = (enabled: string, replicated: boolean): CatalogSnapshot => ({
  relations: [
    {
      oid: '100',
      schema: 'public',
      name: 'orders',
      isPartition: false,
      root: null,
      primaryKey: ['id'],
      columns: { '1': 'id' },
      replicated,
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
  it('reports replica_mode_gap for origin-only triggers on a table a subscription writes, with ENABLE ALWAYS fixes', () => {
    const { findings, covered } = analyzeCapture(snapshot('O', true), 'threadline');
    expect(findings).toEqual([
      {
        code: 'replica_mode_gap',
        severity: 'warning',
        schema: 'public',
        table: 'orders',
        message:
          'orders is written by a logical-replication subscription, which runs with session_replication_role = replica; capture trigger(s) threadline_capture_insert, threadline_capture_update, threadline_capture_delete, threadline_capture_truncate do not fire for those writes',
        fix: [
          'ALTER TABLE "public"."orders" ENABLE ALWAYS TRIGGER "threadline_capture_insert";',
          'ALTER TABLE "public"."orders" ENABLE ALWAYS TRIGGER "threadline_capture_update";',
          'ALTER TABLE "public"."orders" ENABLE ALWAYS TRIGGER "threadline_capture_delete";',
          'ALTER TABLE "public"."orders" ENABLE ALWAYS TRIGGER "threadline_capture_truncate";',
        ].join(' '),
      },
    ]);
    expect(covered.get('100')).toBe(true);
  });

  it('has no replica gap once the triggers are ENABLE ALWAYS, nor on a table no subscription writes', () => {
    expect(analyzeCapture(snapshot('A', true), 'threadline').findings).toEqual([]);
    expect(analyzeCapture(snapshot('O', false), 'threadline').findings).toEqual([]);
  });
});
