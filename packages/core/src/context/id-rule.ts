/**
 * The one rule for an actor id and a context id (correlationId, requestId, jobId, causationId,
 * source), applied by the JavaScript checks and, through NOT_IN_ID_SQL, by the database's
 * clean_context_id and its shortcut context_is_clean. Both sides work from REFUSED below, so they
 * accept, refuse and trim the same ids:
 *
 * - only U+0020 SPACE is trimmed from either end (JavaScript's trim() would also remove NBSP,
 *   U+2000…U+200A, U+3000, U+FEFF and line terminators, which PostgreSQL's btrim keeps);
 * - what is left is 1..256 bytes of UTF-8;
 * - it holds no character of REFUSED, and no lone UTF-16 surrogate (JavaScript only: it has no
 *   UTF-8 form, so it never reaches the database as text).
 */

/** The rule in words, for error messages. */
export const ID_RULE =
  'a non-empty string of at most 256 bytes (spaces at either end are trimmed) with no control, format or invisible character and no space other than U+0020';

/**
 * The characters no id may hold, as inclusive code point ranges. Every character a reader cannot
 * see or tell from another, so `user:7` and `user:7\u00a0` cannot both be actors:
 * - controls (Cc) and format characters (Cf: zero-width spaces and joiners, LRM/RLM/ALM, bidi
 *   embeddings and isolates, soft hyphen, BOM, interlinear annotations, tags);
 * - line and paragraph separators (Zl, Zp) and every space separator but U+0020 (Zs: NBSP,
 *   U+1680, U+2000–U+200A, U+202F, U+205F, U+3000);
 * - the other default-ignorable code points (U+034F combining grapheme joiner, the Hangul fillers
 *   U+115F, U+1160, U+3164 and U+FFA0, U+17B4–U+17B5, the variation selectors U+180B–U+180F,
 *   U+FE00–U+FE0F and U+E0100–U+E01EF, U+FFF0–U+FFF8, the rest of U+E0000–U+E0FFF);
 * - U+2800 BRAILLE PATTERN BLANK, which renders as a space.
 * An explicit list, not \p{...} classes, so the rule does not change with Node's Unicode version
 * and the database checks exactly the same set (test/id-rule.test.ts checks that it covers those
 * classes as the running Node knows them).
 */
const REFUSED: readonly (readonly [number, number])[] = [
  [0x0000, 0x001f],
  [0x007f, 0x00a0],
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x0600, 0x0605],
  [0x061c, 0x061c],
  [0x06dd, 0x06dd],
  [0x070f, 0x070f],
  [0x0890, 0x0891],
  [0x08e2, 0x08e2],
  [0x115f, 0x1160],
  [0x1680, 0x1680],
  [0x17b4, 0x17b5],
  [0x180b, 0x180f],
  [0x2000, 0x200f],
  [0x2028, 0x202f],
  [0x205f, 0x206f],
  [0x2800, 0x2800],
  [0x3000, 0x3000],
  [0x3164, 0x3164],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
  [0xffa0, 0xffa0],
  [0xfff0, 0xfffb],
  [0x110bd, 0x110bd],
  [0x110cd, 0x110cd],
  [0x13430, 0x1343f],
  [0x1bca0, 0x1bca3],
  [0x1d173, 0x1d17a],
  [0xe0000, 0xe0fff],
];

const hex = (c: number, width: number) => c.toString(16).padStart(width, '0');

/** REFUSED, or a lone surrogate: the characters no id may hold, in JavaScript. */
export const UNSAFE_ID_CHARACTERS = new RegExp(
  `[${REFUSED.map(([a, b]) => (a === b ? `\\u{${hex(a, 4)}}` : `\\u{${hex(a, 4)}}-\\u{${hex(b, 4)}}`)).join('')}\\p{Cs}]`,
  'u',
);

/**
 * REFUSED as a PostgreSQL regular expression class written inside an E'' literal (each backslash
 * doubled). U+0000 is left out: PostgreSQL text cannot hold it.
 */
export const NOT_IN_ID_SQL = `[${REFUSED.map(([a, b]) => {
  const esc = (c: number) => (c <= 0xffff ? `\\\\u${hex(c, 4)}` : `\\\\U${hex(c, 8)}`);
  const from = Math.max(a, 1);
  return from === b ? esc(b) : `${esc(from)}-${esc(b)}`;
}).join('')}]`;

/** `text` without U+0020 at either end (and nothing else trimmed, like PostgreSQL's btrim). */
export function trimSpaces(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && text.charCodeAt(start) === 0x20) start++;
  while (end > start && text.charCodeAt(end - 1) === 0x20) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

const MAX_ID_BYTES = 256;

/**
 * What an id string is stored as — trimmed of U+0020 — or undefined when the rule refuses it
 * (empty, over 256 bytes, or holding an unsafe character). The database's clean_context_id gives
 * the same answer for the same string.
 */
export function cleanId(value: string): string | undefined {
  const trimmed = trimSpaces(value);
  if (trimmed === '') return undefined;
  // A UTF-16 unit is at most 3 bytes of UTF-8: short ids need no byte count.
  if (trimmed.length * 3 > MAX_ID_BYTES && Buffer.byteLength(trimmed, 'utf8') > MAX_ID_BYTES)
    return undefined;
  if (UNSAFE_ID_CHARACTERS.test(trimmed)) return undefined;
  return trimmed;
}

/** The rule for an id given to look rows up with (lookupId), in words. */
export const LOOKUP_ID_RULE =
  'a non-empty string of at most 256 bytes (spaces at either end are trimmed) with no control character';

/** Controls (Cc) and lone surrogates. */
const CONTROL_OR_SURROGATE = /[\p{Cc}\p{Cs}]/u;

/**
 * An id to look stored rows up by (query filters, a revert's correlation id), or undefined. Looser
 * than cleanId on purpose: an earlier release stored ids that today's rule refuses (an NBSP inside,
 * a Hangul filler, a variation selector), and finding them must keep working. What no release
 * stored, and the database could not compare, is still refused: control characters, lone
 * surrogates, an empty or over-long string.
 */
export function lookupId(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const trimmed = trimSpaces(value);
  if (trimmed === '') return undefined;
  if (trimmed.length * 3 > MAX_ID_BYTES && Buffer.byteLength(trimmed, 'utf8') > MAX_ID_BYTES)
    return undefined;
  return CONTROL_OR_SURROGATE.test(trimmed) ? undefined : trimmed;
}
