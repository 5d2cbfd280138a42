import { describe, expect, it } from 'vitest';
import { escapeControls } from '../src/format-table.js';
import { colorEnabled, formatTable } from '../src/index.js';

describe('formatTable', () => {
  it('aligns columns under a heading and a rule, numbers to the right', () => {
    const text = formatTable(
      [
        { name: 'posts', rows: 12 },
        { name: 'billing.invoices', rows: 3 },
      ],
      ['name', 'rows'],
      { color: false },
    );
    expect(text.split('\n')).toEqual([
      'name              rows',
      '────────────────  ────',
      'posts               12',
      'billing.invoices     3',
    ]);
  });

  it('cuts long cells with an ellipsis and honours per-column widths', () => {
    const text = formatTable([{ a: 'x'.repeat(30), b: 'short' }], [{ key: 'a', maxWidth: 10 }, 'b'], {
      color: false,
    });
    expect(text.split('\n')[2]).toBe(`${'x'.repeat(9)}…  short`);
  });

  it('renders arrays, objects, dates and nulls readably', () => {
    const text = formatTable(
      [{ list: ['a', 'b'], obj: { k: 1 }, at: new Date('2026-01-02T03:04:05Z'), none: null }],
      [{ key: 'list', header: 'List' }, 'obj', 'at', 'none'],
      { color: false },
    );
    expect(text.split('\n')[2]).toBe('a, b  {"k":1}  2026-01-02T03:04:05.000Z');
  });

  it('escapes control and bidi characters so cell text cannot drive the terminal', () => {
    const text = formatTable([{ v: 'a\nb\x1b[31mred\u202e' }], ['v'], { color: false });
    expect(text).not.toContain('\x1b');
    expect(text.split('\n')[2]).toBe('a\\nb\\u001b[31mred\\u202e');
  });

  it('counts wide characters as two columns', () => {
    const text = formatTable(
      [
        { a: '日本', b: 'x' },
        { a: 'ab', b: 'y' },
      ],
      ['a', 'b'],
      { color: false },
    );
    expect(text.split('\n').slice(2)).toEqual(['日本  x', 'ab    y']);
  });

  it('uses bold headings only with color, and color only on a TTY without NO_COLOR', () => {
    expect(formatTable([{ a: 1 }], ['a'], { color: true })).toContain('\x1b[1m');
    expect(formatTable([{ a: 1 }], ['a'], { color: false })).not.toContain('\x1b');
    expect(colorEnabled({ isTTY: true }, {})).toBe(true);
    expect(colorEnabled({ isTTY: true }, { NO_COLOR: '1' })).toBe(false);
    expect(colorEnabled({ isTTY: false }, {})).toBe(false);
  });

  it('renders only the heading for no rows', () => {
    expect(formatTable([], ['a', 'b'], { color: false }).split('\n')).toHaveLength(2);
  });

  it('escapes zero-width, format and separator characters, astral ones included, and leaves text alone', () => {
    expect(
      escapeControls('ad\u200bmin \u200e\u200f\u061c\u2028\u2029\u00ad\ufeff\u{e0001} José 山田 😀'),
    ).toBe('ad\\u200bmin \\u200e\\u200f\\u061c\\u2028\\u2029\\u00ad\\ufeff\\u{e0001} José 山田 😀');
  });
});
