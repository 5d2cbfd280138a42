import type { DbHandle } from '@threadline/test-utils';
import type pg from 'pg';
import { createThreadline, type TableCaptureOptions, type Threadline } from '../src/index.js';

export interface ChangeRow {
  id: string;
  transaction_id: string;
  table_schema: string;
  table_name: string;
  op: string;
  table_pk: unknown;
  table_pk_before: unknown;
  data_after: Record<string, unknown> | null;
  data_before: Record<string, unknown> | null;
  changed_fields: string[] | null;
  changed_from: Record<string, unknown> | null;
}

let counter = 0;
/** A table name unique within the test database. */
export function uniqueName(prefix = 't'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}`;
}

export async function installed(
  db: DbHandle,
  tables: Record<string, TableCaptureOptions> = {},
): Promise<Threadline> {
  const tl = createThreadline({ db: db.db, tables });
  await tl.install();
  return tl;
}

export async function changesFor(db: DbHandle, schema: string, table: string): Promise<ChangeRow[]> {
  return db.sql<ChangeRow>(
    `select c.id::text as id, transaction_id::text, table_schema, table_name, op, table_pk, table_pk_before, data_after, data_before,
            changed_fields, changed_from
       from threadline.audit_changes c where table_schema = $1 and table_name = $2 order by c.id`,
    [schema, table],
  );
}

export async function countRows(db: DbHandle, sql: string, params: unknown[] = []): Promise<number> {
  const rows = await db.sql<{ n: string | number }>(`select count(*)::int as n from (${sql}) x`, params);
  return Number(rows[0]?.n ?? 0);
}

/** One node of `EXPLAIN (FORMAT JSON)` output, as far as the plan tests read it. */
export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

/**
 * A Threadline instance that reads through one pooled client and remembers its last query, so
 * `planOf` can EXPLAIN exactly what a read ran, with the same parameters, under `planSettings`
 * (e.g. `{ enable_seqscan: 'off' }`, set for the EXPLAIN's transaction only). The reads themselves
 * run with the server's settings: with sequential scans disabled, the functions a read calls
 * (table id lookups) plan their catalog queries badly and one read took seconds.
 */
export function explainingThreadline(
  client: pg.PoolClient,
  planSettings: Record<string, string> = {},
): {
  tl: Threadline;
  planOf: (run: () => Promise<unknown>) => Promise<PlanNode>;
} {
  let last = { sql: '', params: [] as unknown[] };
  const tl = createThreadline({
    db: {
      kind: 'custom',
      async query(sql: string, params: readonly unknown[] = []) {
        last = { sql, params: [...params] };
        const r = await client.query(sql, [...params]);
        return { rows: r.rows, rowCount: r.rowCount };
      },
      async exec(sql: string) {
        await client.query(sql);
      },
      transaction: () => Promise.reject(new Error('read-only test')),
      queryAfter: () => Promise.reject(new Error('read-only test')),
    } as never,
  });
  const planOf = async (run: () => Promise<unknown>) => {
    await run();
    await client.query('BEGIN');
    try {
      for (const [name, value] of Object.entries(planSettings))
        await client.query('SELECT set_config($1, $2, true)', [name, value]);
      const [row] = (await client.query(`EXPLAIN (FORMAT JSON) ${last.sql}`, last.params)).rows as {
        'QUERY PLAN': [{ Plan: PlanNode }];
      }[];
      return row!['QUERY PLAN'][0].Plan;
    } finally {
      await client.query('ROLLBACK');
    }
  };
  return { tl, planOf };
}
