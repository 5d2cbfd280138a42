/**
 * Display rules for hostile text: control, format and bidirectional characters are shown as
 * visible `\u{…}` escapes (so `ad\u200bmin` never looks like `admin` and a right-to-left override
 * cannot reorder a line), and long values are cut at a code point boundary with a marker.
 */
const INVISIBLE =
  /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb]/g;

export function visible(text: string): string {
  return text.replace(INVISIBLE, (c) => `\\u{${c.codePointAt(0)!.toString(16).padStart(4, '0')}}`);
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
