/**
 * Display rules for hostile text: control, format and bidirectional characters are shown as
 * visible `\u{…}` escapes (so `ad\u200bmin` never looks like `admin` and a right-to-left override
 * cannot reorder a line), and long values are cut at a code point boundary with a marker.
 */
/** Code point ranges shown as escapes: C0/C1 controls (not tab or newline), soft hyphen, bidi
 * marks and overrides, zero-width and other invisible format characters, variation selectors, BOM. */
const INVISIBLE: readonly [number, number][] = [
  [0x00, 0x08],
  [0x0b, 0x1f],
  [0x7f, 0x9f],
  [0xad, 0xad],
  [0x61c, 0x61c],
  [0x115f, 0x1160],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x200b, 0x200f],
  [0x2028, 0x202e],
  [0x2060, 0x206f],
  [0x3164, 0x3164],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xffa0, 0xffa0],
  [0xfff0, 0xfffb],
];

function invisible(cp: number): boolean {
  for (const [lo, hi] of INVISIBLE) if (cp >= lo && cp <= hi) return true;
  return false;
}

export function visible(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    out += invisible(cp) ? `\\u{${cp.toString(16).padStart(4, '0')}}` : ch;
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
