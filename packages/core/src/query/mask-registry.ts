import { toThreadlineError } from '../db/db-errors.js';
import { diffOf, type MaskInfo, readChange } from './change-diff.js';
import { fromIsoSql } from './rows.js';
import type { Run } from './sql-parts.js';
import type { AuditChange, ChangeDiff } from './types.js';

const keyOf = (schema: string, name: string) => JSON.stringify([schema, name]);

interface RegistryRow {
  table_schema: string;
  table_name: string;
  mask: unknown;
  placeholder: unknown;
}

/** The extra column withMasks adds to a page's rows. */
export interface MaskColumn {
  masks: string | null;
}

function tablesOf(changes: readonly AuditChange[]): Map<string, [string, string]> {
  const tables = new Map<string, [string, string]>();
  for (const c of changes) tables.set(keyOf(c.tableSchema, c.tableName), [c.tableSchema, c.tableName]);
  return tables;
}

/**
 * What each table's capture function was generated with, as the database's registry
 * (captured_tables.options) records it: the masked columns and their placeholder. Read again for
 * the tables of every page a query returns, so diffs are flagged by what the database did, not by
 * the caller's configuration.
 */
export class MaskRegistry {
  private readonly known = new Map<string, MaskInfo | null>();

  constructor(private readonly q: string) {}

  /**
   * `pageSql` (a change list in `captured_at desc, id desc` order) with one more column, `masks`:
   * the registry entries of the tables on the page, read once (the same text on every row).
   */
  withMasks(pageSql: string): string {
    return `WITH shown AS MATERIALIZED (${pageSql}),
      masks AS MATERIALIZED (SELECT jsonb_agg(jsonb_build_array(ct.table_schema, ct.table_name, ct.options -> 'mask',
          ct.options ->> 'maskPlaceholder'))::text AS masks
        FROM ${this.q}.captured_tables ct
        WHERE (ct.table_schema COLLATE "C", ct.table_name COLLATE "C") IN (SELECT DISTINCT table_schema, table_name FROM shown))
      SELECT shown.*, masks.masks FROM shown CROSS JOIN masks
      ORDER BY ${fromIsoSql('shown.captured_at')} DESC, shown.id::bigint DESC`;
  }

  /** Record what `masks` (from withMasks) says about the tables of these changes. */
  remember(changes: readonly AuditChange[], masks: string | null): void {
    const rows = masks ? (JSON.parse(masks) as [string, string, unknown, unknown][]) : [];
    this.store(
      changes,
      rows.map(([table_schema, table_name, mask, placeholder]) => ({
        table_schema,
        table_name,
        mask,
        placeholder,
      })),
    );
  }

  /**
   * Read the registry entries of the tables these changes belong to (a statement of its own, on
   * `run`: the database the changes were read from).
   */
  async refresh(run: Run, changes: readonly AuditChange[], what: string): Promise<void> {
    const list = [...tablesOf(changes).values()];
    if (list.length === 0) return;
    let rows: RegistryRow[];
    try {
      rows = await run(
        `SELECT ct.table_schema, ct.table_name, ct.options -> 'mask' AS mask, ct.options ->> 'maskPlaceholder' AS placeholder
           FROM ${this.q}.captured_tables ct
          WHERE (ct.table_schema, ct.table_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [list.map(([s]) => s), list.map(([, n]) => n)],
      );
    } catch (error) {
      throw toThreadlineError(error, what);
    }
    this.store(changes, rows);
  }

  private store(changes: readonly AuditChange[], rows: readonly RegistryRow[]): void {
    for (const key of tablesOf(changes).keys()) this.known.set(key, null);
    for (const r of rows) {
      const mask = typeof r.mask === 'string' ? (JSON.parse(r.mask) as unknown) : r.mask;
      const fields = Array.isArray(mask) ? mask.filter((f): f is string => typeof f === 'string') : [];
      if (fields.length > 0 && typeof r.placeholder === 'string')
        this.known.set(keyOf(r.table_schema, r.table_name), { fields, placeholder: r.placeholder });
    }
  }

  /** The diff of a change, flagged with the registry entry last read for its table (none: unflagged). */
  diff(input: AuditChange): ChangeDiff {
    const change = readChange(input);
    return diffOf(change, this.known.get(keyOf(change.tableSchema, change.tableName)) ?? undefined);
  }
}
