import { EXPORT_COLUMNS, type ExportRow, JSON_COLUMNS } from '../columns.js';
import { compactJsonb } from './json-text.js';

/** Characters a spreadsheet treats as the start of a formula (or that hide one): = + - @ tab CR. */
const FORMULA_START = /^[=+\-@\t\r]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV cell (RFC 4180): quoted when it holds a quote, comma, CR or LF. With `formulaGuard`,
 * a cell that a spreadsheet would evaluate gets a leading `'` so it is shown as text.
 */
export function csvCell(value: string | null, formulaGuard: boolean): string {
  if (value === null || value === '') return '';
  const text = formulaGuard && FORMULA_START.test(value) ? `'${value}` : value;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

export const CSV_HEADER = `${EXPORT_COLUMNS.join(',')}\r\n`;

/** CSV records, each ending in `\r\n`; JSON-valued cells are compact JSON text. */
export function csvRows(rows: readonly ExportRow[], formulaGuard: boolean): string {
  let out = '';
  for (const row of rows) {
    for (let i = 0; i < EXPORT_COLUMNS.length; i++) {
      const column = EXPORT_COLUMNS[i]!;
      const value = row[column];
      if (i > 0) out += ',';
      out += csvCell(value !== null && JSON_COLUMNS.has(column) ? compactJsonb(value) : value, formulaGuard);
    }
    out += '\r\n';
  }
  return out;
}
