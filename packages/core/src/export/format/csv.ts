import { EXPORT_COLUMNS } from '../columns.js';

/** The header row of an export CSV (the records themselves are written by PostgreSQL, see record-sql.ts). */
export const CSV_HEADER = `${EXPORT_COLUMNS.join(',')}\r\n`;
