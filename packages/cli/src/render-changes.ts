import { ActorRef, type AuditChange, type ChangeDiff, type FieldDiff, type Page } from '@threadline/core';
import { formatTableName } from '@threadline/core/internal';
import { escapeControls, type TableColumn } from './format-table.js';
import type { Output } from './output.js';

/**
 * Rendering of audit data for people. Everything here is untrusted text (row values, actor
 * ids, correlation ids, table names): every string that reaches the terminal goes through
 * escapeControls, here or in formatTable.
 */

/** Longest value shown in line-oriented output (incident, as-of); --json has the full value. */
const MAX_VALUE = 300;

/** Escaped, and cut to `max` characters with "…" (never inside a surrogate pair). */
export function safe(text: string, max = MAX_VALUE): string {
  const escaped = escapeControls(text);
  if (escaped.length <= max) return escaped;
  let cut = max - 1;
  const last = escaped.charCodeAt(cut - 1);
  if (last >= 0xd800 && last <= 0xdbff) cut -= 1; // a high surrogate whose low half would be cut off
  return `${escaped.slice(0, cut)}…`;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** A column value as JSON (strings quoted, so "42" and 42 differ), escaped. */
export function value(v: unknown, max = MAX_VALUE): string {
  if (v === undefined) return '?';
  return safe(JSON.stringify(v) ?? String(v), max);
}

export function actorText(actor: ActorRef | null | undefined): string {
  if (!actor) return '-';
  try {
    return ActorRef.format(actor);
  } catch {
    return JSON.stringify(actor);
  }
}

/** `id=42`, `org_id=1, user_id=2` (strings unquoted, other values as JSON). */
export function keyText(pk: Record<string, unknown> | null | undefined): string {
  if (pk === null || pk === undefined) return '-';
  if (!isObject(pk)) return JSON.stringify(pk) ?? String(pk);
  const parts = Object.entries(pk).map(
    ([k, v]) => `${k}=${typeof v === 'string' ? v : (JSON.stringify(v) ?? String(v))}`,
  );
  return parts.length > 0 ? parts.join(', ') : '(whole table)';
}

export function changeKey(change: AuditChange): string {
  const now = keyText(change.tablePk);
  return change.tablePkBefore ? `${now} (was ${keyText(change.tablePkBefore)})` : now;
}

export function tableText(change: AuditChange): string {
  return formatTableName({ schema: change.tableSchema, name: change.tableName });
}

function fieldValue(f: FieldDiff, side: 'before' | 'after'): string {
  if (!(side in f)) return '?';
  return f.redacted ? `${value(f[side])} (redacted)` : value(f[side]);
}

/** One field of a diff: `title: "draft" → "v2"` for updates, `title: "draft"` for inserts and deletes. */
export function fieldText(diff: ChangeDiff, f: FieldDiff): string {
  const name = safe(f.field, 80);
  if (diff.op === 'update') return `${name}: ${fieldValue(f, 'before')} → ${fieldValue(f, 'after')}`;
  return `${name}: ${fieldValue(f, diff.op === 'delete' ? 'before' : 'after')}`;
}

/** The whole diff on one line (table cell). */
function diffText(diff: ChangeDiff, change: AuditChange): string {
  if (diff.op === 'truncate') {
    const partition = isObject(change.dataBefore) ? change.dataBefore.partition : undefined;
    return typeof partition === 'string' ? `partition ${partition} truncated` : 'table truncated';
  }
  if (diff.fields.length === 0) return '-';
  return diff.fields.map((f) => fieldText(diff, f)).join('; ');
}

const COLUMNS: TableColumn[] = [
  { key: 'time', maxWidth: 27 },
  { key: 'op' },
  { key: 'table', maxWidth: 40 },
  { key: 'key', maxWidth: 40 },
  { key: 'actor', maxWidth: 32 },
  { key: 'correlation', maxWidth: 32 },
  { key: 'tx', align: 'right' },
  { key: 'changes', header: 'changes (before → after)', maxWidth: 100 },
];

/** A page of changes as a table, then (on stderr) how to get the next page. */
export function printChangePage(
  out: Output,
  page: Page<AuditChange>,
  diff: (change: AuditChange) => ChangeDiff,
  options: { showTable: boolean; empty: string },
): void {
  if (page.entries.length === 0) {
    out.line(options.empty);
    return;
  }
  const rows = page.entries.map((change) => ({
    time: change.capturedAt,
    op: change.op,
    table: tableText(change),
    key: changeKey(change),
    actor: actorText(change.actor),
    correlation: change.correlationId ?? '-',
    tx: change.transactionId,
    changes: diffText(diff(change), change),
  }));
  out.table(rows, options.showTable ? COLUMNS : COLUMNS.filter((c) => c.key !== 'table'));
  if (page.hasMore && page.cursor) {
    out.note(
      `more changes: run again with --cursor ${page.cursor} (same filters) for the next ${page.entries.length}`,
    );
  }
}

/** A row (as-of) as `column  value` lines; row data that is not an object is printed whole. */
export function printRow(out: Output, row: Record<string, unknown>, keyFirst: readonly string[]): void {
  if (!isObject(row)) {
    out.line(`(row data is not an object) ${value(row)}`);
    return;
  }
  const names = [
    ...keyFirst.filter((k) => k in row),
    ...Object.keys(row)
      .filter((k) => !keyFirst.includes(k))
      .sort(),
  ];
  out.table(
    names.map((name) => ({ column: name, value: value(row[name]) })),
    [{ key: 'column' }, { key: 'value', maxWidth: MAX_VALUE }],
  );
}
