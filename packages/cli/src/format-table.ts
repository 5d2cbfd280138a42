/** One column of a table: which key of each row to show, and how. */
export interface TableColumn {
  key: string;
  /** Heading text; defaults to the key. */
  header?: string;
  /** Defaults to right for columns whose values are all numbers, else left. */
  align?: 'left' | 'right';
  /** Longer cells are cut and end with "…". Defaults to the table's maxCellWidth. */
  maxWidth?: number;
}

export interface FormatTableOptions {
  /** Bold headings. Defaults to true only when stdout is a TTY and NO_COLOR is not set. */
  color?: boolean;
  /** Default cut-off for every column. Default 48. */
  maxCellWidth?: number;
}

const GAP = '  ';

/**
 * Render rows as an aligned plain-text table: a heading line, a rule, one line per row.
 * Cell text is treated as untrusted: control, format (zero-width, bidi) and separator characters
 * are shown escaped, never passed to the terminal.
 */
export function formatTable(
  rows: readonly Record<string, unknown>[],
  columns: readonly (string | TableColumn)[],
  options: FormatTableOptions = {},
): string {
  const color = options.color ?? colorEnabled(process.stdout, process.env);
  const cols = columns.map((c) => (typeof c === 'string' ? { key: c } : c));
  const cells = rows.map((row) => cols.map((col) => cellText(row[col.key])));
  const headers = cols.map((col) => cellText(col.header ?? col.key));
  const limits = cols.map((col) => Math.max(1, col.maxWidth ?? options.maxCellWidth ?? 48));
  const clipped = cells.map((line) => line.map((text, i) => truncate(text, limits[i]!)));
  const heads = headers.map((text, i) => truncate(text, limits[i]!));
  const widths = cols.map((_col, i) =>
    Math.max(displayWidth(heads[i]!), ...clipped.map((line) => displayWidth(line[i]!))),
  );
  const aligns = cols.map(
    (col, i) =>
      col.align ?? (rows.length > 0 && rows.every((r) => isNumber(r[cols[i]!.key])) ? 'right' : 'left'),
  );

  const render = (line: string[]) =>
    line
      .map((text, i) => pad(text, widths[i]!, aligns[i]!))
      .join(GAP)
      .trimEnd();
  const heading = render(heads);
  const rule = widths.map((w) => '─'.repeat(w)).join(GAP);
  return [color ? `\x1b[1m${heading}\x1b[22m` : heading, rule, ...clipped.map(render)].join('\n');
}

/** Color only for a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function colorEnabled(stream: { isTTY?: boolean }, env: Record<string, string | undefined>): boolean {
  return stream.isTTY === true && !env.NO_COLOR;
}

function isNumber(value: unknown): boolean {
  return typeof value === 'number' || typeof value === 'bigint';
}

function cellText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'string') return escapeControls(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (Array.isArray(value) && value.every((v) => v === null || typeof v !== 'object')) {
    return escapeControls(value.map((v) => String(v)).join(', '));
  }
  if (typeof value === 'object') return escapeControls(JSON.stringify(value) ?? '');
  return escapeControls(String(value));
}

// Every control (C0, DEL, C1), every format character (zero-width spaces and joiners, LRM, RLM,
// ALM, bidi embeddings, overrides and isolates, soft hyphen, BOM) and the line and paragraph
// separators: each can hide, reorder or fake text on a terminal (user:ad\u200bmin would look like
// user:admin), so each is shown as an escape.
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function escapeControls(text: string): string {
  return text.replace(UNSAFE, (ch) => {
    const named = NAMED[ch];
    if (named) return named;
    const code = ch.codePointAt(0)!;
    return code > 0xffff ? `\\u{${code.toString(16)}}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

function truncate(text: string, max: number): string {
  if (displayWidth(text) <= max) return text;
  let out = '';
  let width = 0;
  for (const ch of text) {
    const w = charWidth(ch);
    if (width + w > max - 1) break;
    out += ch;
    width += w;
  }
  return `${out}…`;
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - displayWidth(text)));
  return align === 'right' ? fill + text : text + fill;
}

function displayWidth(text: string): number {
  let width = 0;
  for (const ch of text) width += charWidth(ch);
  return width;
}

// Terminal columns per character: combining marks and zero-width characters take none, East
// Asian wide characters and emoji take two.
const ZERO_WIDTH: readonly [number, number][] = [
  [0x0300, 0x036f],
  [0x200b, 0x200f],
  [0xfe00, 0xfe0f],
];
const WIDE: readonly [number, number][] = [
  [0x1100, 0x115f],
  [0x2e80, 0xa4cf],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe30, 0xfe4f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x3fffd],
];

const within = (code: number, ranges: readonly [number, number][]) =>
  ranges.some(([from, to]) => code >= from && code <= to);

function charWidth(ch: string): number {
  const code = ch.codePointAt(0)!;
  if (within(code, ZERO_WIDTH)) return 0;
  return within(code, WIDE) ? 2 : 1;
}
