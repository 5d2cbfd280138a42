import type { AuditChange, ChangeDiff, FieldDiff } from './types.js';

/** What the diff knows about masking for a table: masked columns and the placeholder. */
export interface MaskInfo {
  fields: readonly string[];
  placeholder: string;
}

const DEFAULT_PLACEHOLDER = '[REDACTED]';

/**
 * Field-level projection of a change: before/after per changed field for updates (before from
 * changed_from), the inserted fields for inserts, the removed row for deletes. Masked values are
 * flagged `redacted: true`; excluded columns were never stored, so they do not appear.
 */
export function changeDiff(change: AuditChange, mask?: MaskInfo): ChangeDiff {
  const placeholder = mask?.placeholder ?? DEFAULT_PLACEHOLDER;
  const isRedacted = (field: string, ...values: unknown[]) =>
    (mask?.fields.includes(field) ?? false) || values.some((v) => v === placeholder);
  const entry = (field: string, parts: { before?: unknown; after?: unknown }): FieldDiff => {
    const values = Object.values(parts);
    return isRedacted(field, ...values) ? { field, ...parts, redacted: true } : { field, ...parts };
  };
  const keyFirst = (row: Record<string, unknown>) => {
    const keys = Object.keys(change.tablePk);
    return [
      ...keys.filter((k) => k in row),
      ...Object.keys(row)
        .filter((k) => !keys.includes(k))
        .sort(),
    ];
  };
  switch (change.op) {
    case 'insert':
    case 'baseline': {
      const row = change.dataAfter ?? {};
      return {
        op: change.op,
        // A baseline is the row as found: what it was before is unknown.
        beforeKnown: change.op === 'insert',
        fields: keyFirst(row).map((f) => entry(f, { after: row[f] })),
      };
    }
    case 'update': {
      const from = change.changedFrom;
      return {
        op: 'update',
        beforeKnown: from !== null,
        fields: (change.changedFields ?? []).map((f) =>
          entry(
            f,
            from && f in from
              ? { before: from[f], after: change.dataAfter?.[f] }
              : { after: change.dataAfter?.[f] },
          ),
        ),
      };
    }
    case 'delete': {
      const row = change.dataBefore;
      if (!row) {
        return {
          op: 'delete',
          beforeKnown: false,
          fields: Object.entries(change.tablePk).map(([f, v]) => ({ field: f, before: v })),
        };
      }
      return {
        op: 'delete',
        beforeKnown: true,
        fields: keyFirst(row).map((f) => entry(f, { before: row[f] })),
      };
    }
    default:
      return { op: change.op, beforeKnown: false, fields: [] };
  }
}
