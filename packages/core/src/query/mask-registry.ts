import { toThreadlineError } from '../db-errors.js';
import { changeDiff, type MaskInfo } from './change-diff.js';
import type { Run } from './sql-parts.js';
import type { AuditChange, ChangeDiff } from './types.js';

const keyOf = (schema: string, name: string) => JSON.stringify([schema, name]);

/**
 * What each table's capture function was generated with, as the database's registry
 * (captured_tables.options) records it: the masked columns and their placeholder. Read again for
 * the tables of every page a query returns, so diffs are flagged by what the database did, not by
 * the caller's configuration.
 */
export class MaskRegistry {
  private readonly known = new Map<string, MaskInfo | null>();

  constructor(
    private readonly run: Run,
    private readonly q: string,
  ) {}

  /** Read the registry entries of the tables these changes belong to. */
  async refresh(changes: readonly AuditChange[], what: string): Promise<void> {
    const tables = new Map<string, [string, string]>();
    for (const c of changes) tables.set(keyOf(c.tableSchema, c.tableName), [c.tableSchema, c.tableName]);
    if (tables.size === 0) return;
    const list = [...tables.values()];
    let rows: { table_schema: string; table_name: string; mask: unknown; placeholder: unknown }[];
    try {
      rows = await this.run(
        `SELECT ct.table_schema, ct.table_name, ct.options -> 'mask' AS mask, ct.options ->> 'maskPlaceholder' AS placeholder
           FROM ${this.q}.captured_tables ct
          WHERE (ct.table_schema, ct.table_name) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        [list.map(([s]) => s), list.map(([, n]) => n)],
      );
    } catch (error) {
      throw toThreadlineError(error, what);
    }
    for (const [key] of tables) this.known.set(key, null);
    for (const r of rows) {
      const mask = typeof r.mask === 'string' ? (JSON.parse(r.mask) as unknown) : r.mask;
      const fields = Array.isArray(mask) ? mask.filter((f): f is string => typeof f === 'string') : [];
      if (fields.length > 0 && typeof r.placeholder === 'string')
        this.known.set(keyOf(r.table_schema, r.table_name), { fields, placeholder: r.placeholder });
    }
  }

  /** The diff of a change, flagged with the registry entry last read for its table (none: unflagged). */
  diff(change: AuditChange): ChangeDiff {
    return changeDiff(change, this.known.get(keyOf(change.tableSchema, change.tableName)) ?? undefined);
  }
}
