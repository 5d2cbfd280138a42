import type { Spread } from './stats.js';

/** A plain-text table: first column left-aligned, the others right-aligned. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function num(value: number, digits = 0): string {
  if (!Number.isFinite(value)) return '-';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

/** "median [min-max]" of per-repetition values. */
export function range(s: Spread, digits = 2): string {
  if (s.n === 0) return '-';
  return `${num(s.median, digits)} [${num(s.min, digits)}-${num(s.max, digits)}]`;
}

export function section(title: string, note: string, ...blocks: string[]): string {
  return [
    `${title}`,
    `${'='.repeat(Math.min(title.length, 110))}`,
    note,
    '',
    ...blocks.flatMap((b) => [b, '']),
  ].join('\n');
}
