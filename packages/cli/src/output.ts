import { colorEnabled, formatTable, type TableColumn } from './format-table.js';
import type { CliIo } from './io.js';
import { createProgress, type Progress } from './progress.js';

/** What commands print through: data on stdout, notes and progress on stderr. */
export interface Output {
  /** A line of text on stdout. */
  line(text?: string): void;
  /** Raw text on stdout (no newline added). */
  raw(text: string): void;
  /** The one JSON document of a --json run (terminal-safe: see jsonText). */
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
    json: (value) => io.stdout.write(`${jsonText(value)}\n`),
    table: (rows, columns) => io.stdout.write(`${formatTable(rows, columns, { color })}\n`),
    note: (text) => io.stderr.write(`${text}\n`),
    progress: (verb, total) => createProgress(io.stderr, verb, total, !json),
  };
}

// JSON.stringify escapes C0 controls but passes C1 controls, DEL, bidi overrides and the
// Unicode line separators through as they are; audit data is hostile, so those are written as
// \uXXXX escapes too. The text parses to exactly the same value.
const JSON_UNSAFE = /[\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Pretty-printed JSON that is safe to print on a terminal. */
export function jsonText(value: unknown): string {
  return (JSON.stringify(value, null, 2) ?? 'null').replace(
    JSON_UNSAFE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}
