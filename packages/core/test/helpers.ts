import type { DbHandle } from '@threadline/test-utils';
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
