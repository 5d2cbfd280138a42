import { EXPORT_COLUMNS, type ExportRow, JSON_COLUMNS } from '../columns.js';
import { compactJsonb, jsonString } from './json-text.js';

/** The keys of a change object, precomputed: `"id":` and so on. */
const KEYS = EXPORT_COLUMNS.map((column, i) => `${i === 0 ? '{' : ','}${jsonString(column)}:`);

/** One change as a compact JSON object (JSON columns embedded verbatim, never re-encoded). */
export function changeObject(row: ExportRow): string {
  let out = '';
  for (let i = 0; i < EXPORT_COLUMNS.length; i++) {
    const column = EXPORT_COLUMNS[i]!;
    const value = row[column];
    out += KEYS[i];
    out += value === null ? 'null' : JSON_COLUMNS.has(column) ? compactJsonb(value) : jsonString(value);
  }
  return `${out}}`;
}

/** NDJSON: one change object per line, `\n` after each. */
export function ndjsonRows(rows: readonly ExportRow[]): string {
  let out = '';
  for (const row of rows) out += `${changeObject(row)}\n`;
  return out;
}
