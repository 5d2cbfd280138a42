import { ThreadlineError } from '../errors.js';
import { isObjectInput, readInput } from '../plain-input.js';
import type { AuditChange, ChangeDiff, FieldDiff } from './types.js';

/** What the diff knows about masking for a table: masked columns and the placeholder. */
export interface MaskInfo {
  fields: readonly string[];
  placeholder: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The field name under which row data that is not a JSON object is shown whole. */
const WHOLE_ROW_FIELD = '(row)';

/**
 * Field-level projection of a change: before/after per changed field for updates (before from
 * changed_from), the inserted fields for inserts, the removed row for deletes. A value is flagged
 * `redacted: true` when its column is masked in `mask` (what the table's capture function was
 * generated with) and the value is that mask's placeholder; without `mask` nothing is flagged, and
 * a value that merely looks like a placeholder never is. Excluded columns were never stored, so
 * they do not appear. Row data that is not an object (written by hand into the audit tables) is
 * shown whole under the field `(row)`.
 */
export function changeDiff(change: AuditChange, mask?: MaskInfo): ChangeDiff {
  return diffOf(readChange(change), mask);
}

/** A change a caller passed to changeDiff, read once (readInput); anything else is refused. */
export function readChange(input: unknown): AuditChange {
  if (!isObjectInput(input))
    throw new ThreadlineError('QUERY_INVALID', 'changeDiff: pass a change that a query returned');
  return readInput(input, 'changeDiff change') as unknown as AuditChange;
}

/** changeDiff of a change already read. */
export function diffOf(change: AuditChange, mask?: MaskInfo): ChangeDiff {
  const isRedacted = (field: string, values: unknown[]) =>
    (mask?.fields.includes(field) ?? false) && values.some((v) => v === mask?.placeholder);
  const entry = (field: string, parts: { before?: unknown; after?: unknown }): FieldDiff =>
    isRedacted(field, Object.values(parts)) ? { field, ...parts, redacted: true } : { field, ...parts };
  const pk = isObject(change.tablePk) ? change.tablePk : {};
  const keyFirst = (row: Record<string, unknown>) => {
    const keys = Object.keys(pk);
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
      if (!isObject(row))
        return { op: 'insert', beforeKnown: true, fields: [{ field: WHOLE_ROW_FIELD, after: row }] };
      return {
        op: change.op,
        // A baseline is the row as found: what it was before is unknown.
        beforeKnown: change.op === 'insert',
        fields: keyFirst(row).map((f) => entry(f, { after: row[f] })),
      };
    }
    case 'update': {
      const from = isObject(change.changedFrom) ? change.changedFrom : null;
      const after = change.dataAfter;
      if (!isObject(after))
        return {
          op: 'update',
          beforeKnown: from !== null,
          fields: [{ field: WHOLE_ROW_FIELD, after }],
        };
      const fields = Array.isArray(change.changedFields) ? change.changedFields.map(String) : [];
      return {
        op: 'update',
        beforeKnown: from !== null,
        fields: fields.map((f) =>
          entry(f, from && f in from ? { before: from[f], after: after[f] } : { after: after[f] }),
        ),
      };
    }
    case 'delete': {
      const row = change.dataBefore;
      if (!row) {
        return {
          op: 'delete',
          beforeKnown: false,
          fields: Object.entries(pk).map(([f, v]) => ({ field: f, before: v })),
        };
      }
      if (!isObject(row))
        return { op: 'delete', beforeKnown: true, fields: [{ field: WHOLE_ROW_FIELD, before: row }] };
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
