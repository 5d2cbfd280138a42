import { quoteIdent } from '../capture/identifiers.js';
import type { SqlClient } from '../db/sql-client.js';
import { isoSql } from '../query/rows.js';

export interface StoragePartition {
  /** The partition's table name (in the storage schema); `audit_changes` when unpartitioned. */
  name: string;
  /** True for the DEFAULT partition, which takes rows no range partition does. */
  isDefault: boolean;
  /** Range bounds (ISO 8601, UTC; `to` exclusive); null for the default partition or no partitions. */
  from: string | null;
  to: string | null;
  /** Table plus index size on disk. */
  bytes: number;
  /** The planner's row estimate (pg_class.reltuples); null until the table was first vacuumed or analyzed. */
  rowEstimate: number | null;
  oldestCapturedAt: string | null;
  newestCapturedAt: string | null;
}

export interface StorageStatus {
  schema: string;
  /** The configured partitioning (storage_settings), and what the table really is. */
  partition: 'none' | 'day' | 'week' | 'month';
  layout: 'partitioned' | 'unpartitioned';
  /**
   * True when the setting asks for partitions and the table is not yet partitioned, or rows
   * written before table ids are not keyed yet (run install --apply or storage maintain).
   */
  migrationPending: boolean;
  /** Rows written before table ids (schema version 7) that storage maintain has not keyed yet. */
  unkeyedRows: number;
  /** Rows the default partition holds (storage maintain moves them into range partitions). */
  defaultPartitionRows: number;
  partitions: StoragePartition[];
  totalBytes: number;
  /** The last range partition's upper bound: captures after it land in the default partition. */
  coveredUntil: string | null;
}

/** isoSql text (years 0001–9999, or ISO 8601 expanded years) → toISOString's form. */
const iso = (v: string | null | undefined) =>
  v === null || v === undefined ? null : new Date(v).toISOString();

/** Partitions, sizes, row estimates and oldest/newest captured_at of audit_changes. */
export async function storageStatus(client: SqlClient, schema: string): Promise<StorageStatus> {
  const q = quoteIdent(schema);
  const { rows: head } = await client.query<{ partition: string; relkind: string }>(
    `SELECT (SELECT partition FROM ${q}.storage_settings) AS partition,
            (SELECT relkind::text FROM pg_class WHERE oid = to_regclass(format('%I.audit_changes', $1::text))) AS relkind`,
    [schema],
  );
  const layout = head[0]?.relkind === 'p' ? 'partitioned' : 'unpartitioned';
  const partition = (head[0]?.partition ?? 'none') as StorageStatus['partition'];
  const { rows } = await client.query<{
    name: string;
    is_default: boolean;
    lo: string | null;
    hi: string | null;
    bytes: string;
    reltuples: number;
  }>(
    layout === 'partitioned'
      ? `SELECT p.name, p.is_default, ${isoSql('p.lo')} AS lo, ${isoSql('p.hi')} AS hi, pg_total_relation_size(p.relid)::text AS bytes, c.reltuples
           FROM ${q}.storage_partitions() p JOIN pg_class c ON c.oid = p.relid ORDER BY p.is_default, p.lo`
      : `SELECT 'audit_changes' AS name, false AS is_default, NULL::timestamptz AS lo, NULL::timestamptz AS hi,
                pg_total_relation_size(c.oid)::text AS bytes, c.reltuples
           FROM pg_class c WHERE c.oid = to_regclass(format('%I.audit_changes', $1::text))`,
    layout === 'partitioned' ? [] : [schema],
  );
  const partitions: StoragePartition[] = [];
  let defaultPartitionRows = 0;
  for (const r of rows) {
    const table = `${q}.${quoteIdent(r.name)}`;
    // min/max of the primary key's leading column: two index probes per partition.
    // As text: a hand-edited captured_at outside 0001–9999 is read as ISO 8601 expanded years.
    const { rows: span } = await client.query<{ oldest: string | null; newest: string | null }>(
      `SELECT ${isoSql('x.oldest')} AS oldest, ${isoSql('x.newest')} AS newest FROM (SELECT
              (SELECT captured_at FROM ${table} ORDER BY captured_at LIMIT 1) AS oldest,
              (SELECT captured_at FROM ${table} ORDER BY captured_at DESC LIMIT 1) AS newest) x`,
    );
    if (r.is_default) {
      const { rows: n } = await client.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM (SELECT 1 FROM ${table} LIMIT 10000000) x`,
      );
      defaultPartitionRows = Number(n[0]!.n);
    }
    partitions.push({
      name: r.name,
      isDefault: r.is_default,
      from: iso(r.lo),
      to: iso(r.hi),
      bytes: Number(r.bytes),
      rowEstimate: Number(r.reltuples) < 0 ? null : Math.round(Number(r.reltuples)),
      oldestCapturedAt: iso(span[0]?.oldest),
      newestCapturedAt: iso(span[0]?.newest),
    });
  }
  // Off the partial legacy index, or without it the NULL range of the compact (table_id, ...) index.
  const { rows: unkeyed } = await client.query<{ n: string }>(
    `SELECT count(*)::text AS n FROM ${q}.audit_changes WHERE table_id IS NULL`,
  );
  const unkeyedRows = Number(unkeyed[0]!.n);
  const ranges = partitions.filter((p) => !p.isDefault && p.to !== null);
  return {
    schema,
    partition,
    layout,
    migrationPending: (layout === 'unpartitioned' && partition !== 'none') || unkeyedRows > 0,
    unkeyedRows,
    defaultPartitionRows,
    partitions,
    totalBytes: partitions.reduce((sum, p) => sum + p.bytes, 0),
    coveredUntil: ranges.length ? ranges[ranges.length - 1]!.to : null,
  };
}
