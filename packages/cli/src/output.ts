import { colorEnabled, formatTable, type TableColumn } from './format-table.js';
import type { CliIo } from './io.js';
import { createProgress, type Progress } from './progress.js';

/** What commands print through: data on stdout, notes and progress on stderr. */
export interface Output {
  /** A line of text on stdout. */
  line(text?: string): void;
  /** Raw text on stdout (no newline added). */
  raw(text: string): void;
  /** The one JSON document of a --json run. */
  json(value: unknown): void;
  /** An aligned table on stdout. */
  table(rows: readonly Record<string, unknown>[], columns: readonly (string | TableColumn)[]): void;
  /** A hint or warning on stderr (never mixed into data). */
  note(text: string): void;
  /** Progress for a loop over `total` items; silent unless stderr is a TTY and not --json. */
  progress(verb: string, total: number): Progress;
}

export function createOutput(io: CliIo, json: boolean): Output {
  const color = colorEnabled(io.stdout, io.env);
  return {
    line: (text = '') => io.stdout.write(`${text}\n`),
    raw: (text) => io.stdout.write(text),
    json: (value) => io.stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    table: (rows, columns) => io.stdout.write(`${formatTable(rows, columns, { color })}\n`),
    note: (text) => io.stderr.write(`${text}\n`),
    progress: (verb, total) => createProgress(io.stderr, verb, total, !json),
  };
}
