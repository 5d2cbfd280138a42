/**
 * Display rules for hostile text: control, format and bidirectional characters are shown as
 * visible `\u{…}` escapes (so `ad\u200bmin` never looks like `admin` and a right-to-left override
 * cannot reorder a line), and long values are cut at a code point boundary with a marker.
 *
 * Shown as escapes: every control (C0 but tab and newline, DEL, C1), every format character
 * (zero-width, bidi marks and overrides, soft hyphen, BOM, tags, Arabic number signs, ...), the
 * line and paragraph separators, and the fillers and variation selectors that render as nothing.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;
/** Fillers and variation selectors: not format characters, but they render as nothing too. */
const BLANK = (cp: number) =>
  cp === 0x115f ||
  cp === 0x1160 ||
  cp === 0x3164 ||
  cp === 0xffa0 ||
  (cp >= 0xfe00 && cp <= 0xfe0f) ||
  (cp >= 0xe0100 && cp <= 0xe01ef);

export function visible(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const hidden = ch !== '\t' && ch !== '\n' && (INVISIBLE.test(ch) || BLANK(cp));
    out += hidden ? `\\u{${cp.toString(16).padStart(4, '0')}}` : ch;
  }
  return out;
}

/** At most `max` code points; a cut value ends with "…" and says how much was left out. */
export function clip(text: string, max: number): { text: string; clipped: number } {
  const points = Array.from(text);
  if (points.length <= max) return { text, clipped: 0 };
  return { text: `${points.slice(0, max).join('')}…`, clipped: points.length - max };
}

/** A value from audit data as one display line: JSON for non-strings, visible controls, clipped. */
export function displayValue(value: unknown, max = 200): { text: string; clipped: number } {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value);
  return clip(visible(text ?? 'null'), max);
}
