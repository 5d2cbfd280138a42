import { isoSql } from '../query/rows.js';
import type { Run } from './load.js';

/** One stored change, jsonb kept as exact text. */
export interface StoredChange {
  id: string;
  transactionId: string;
  schema: string;
  name: string;
  op: 'insert' | 'update' | 'delete' | 'truncate';
  pk: string;
  pkBefore: string | null;
  dataAfter: string | null;
  dataBefore: string | null;
  changedFields: string[] | null;
  changedFrom: string | null;
  capturedAt: string;
}

export interface ChangeTextRow {
  id: string;
  transaction_id: string;
  table_schema: string;
  table_name: string;
  op: StoredChange['op'];
  table_pk: string;
  table_pk_before: string | null;
  data_after: string | null;
  data_before: string | null;
  changed_fields: string | null;
  changed_from: string | null;
  captured_at: string;
}

export const changeColumns = `c.id::text AS id, c.transaction_id::text AS transaction_id, c.table_schema, c.table_name, c.op,
  c.table_pk::text AS table_pk, c.table_pk_before::text AS table_pk_before, c.data_after::text AS data_after,
  c.data_before::text AS data_before, array_to_json(c.changed_fields)::text AS changed_fields,
  c.changed_from::text AS changed_from, ${isoSql('c.captured_at')} AS captured_at`;

export function toStored(r: ChangeTextRow): StoredChange {
  return {
    id: r.id,
    transactionId: r.transaction_id,
    schema: r.table_schema,
    name: r.table_name,
    op: r.op,
    pk: r.table_pk,
    pkBefore: r.table_pk_before,
    dataAfter: r.data_after,
    dataBefore: r.data_before,
    changedFields: r.changed_fields === null ? null : (JSON.parse(r.changed_fields) as string[]),
    changedFrom: r.changed_from,
    capturedAt: r.captured_at,
  };
}

/**
 * Changes of the audit transactions `transactions` by id, oldest first (by id: the order a row's
 * changes happened in, see conflicts.ts). Read along (transaction_id, captured_at, id), the id
 * compared inside the index: the primary key leads with captured_at, so ids alone have no btree.
 */
export async function changesById(
  run: Run,
  q: string,
  ids: string[],
  transactions: string[],
): Promise<StoredChange[]> {
  const rows = await run<ChangeTextRow>(
    `SELECT ${changeColumns} FROM ${q}.audit_changes c
      WHERE c.transaction_id = ANY($2::bigint[]) AND c.id = ANY($1::bigint[]) ORDER BY c.id`,
    [ids, transactions],
  );
  return rows.map(toStored);
}

/** Audit change ids (bigint text) in numeric order. */
export function cmpId(a: string, b: string): number {
  return a.length === b.length ? (a < b ? -1 : a > b ? 1 : 0) : a.length - b.length;
}
