import { ThreadlineError } from '../errors.js';
import { parseExactJson } from '../query/exact-json.js';

/**
 * Row images as PostgreSQL stored them, column by column, without JSON.parse rounding: a
 * numeric(30,10) or a bigint past 2^53 is written back from its exact stored text.
 */
export type RawImage = Map<string, string>;

/** A stored row image PostgreSQL gave back is not the JSON object it should be (never expected). */
function malformed(what: string): ThreadlineError {
  return new ThreadlineError('DATABASE_ERROR', `revert: a stored row image is not valid JSON (${what})`);
}

const QUOTE = 34;
const BACKSLASH = 92;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const COMMA = 44;
const COLON = 58;

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 9 || code === 13;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** End index (exclusive) of the JSON string starting at `i` (a `"`). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    const code = text.charCodeAt(j);
    if (code === BACKSLASH) j++;
    else if (code === QUOTE) return j + 1;
  }
  throw malformed('unterminated JSON string');
}

/** End index (exclusive) of the JSON value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const first = text.charCodeAt(i);
  if (first === QUOTE) return stringEnd(text, i);
  if (first === OPEN_BRACE || first === OPEN_BRACKET) {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const code = text.charCodeAt(j);
      if (code === QUOTE) j = stringEnd(text, j) - 1;
      else if (code === OPEN_BRACE || code === OPEN_BRACKET) depth++;
      else if (code === CLOSE_BRACE || code === CLOSE_BRACKET) {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw malformed('unterminated JSON value');
  }
  let j = i;
  for (; j < text.length; j++) {
    const code = text.charCodeAt(j);
    if (code === COMMA || code === CLOSE_BRACE || code === CLOSE_BRACKET || isSpace(code)) break;
  }
  return j;
}

/** A key without escapes is its own text; only escaped keys need JSON.parse. */
function keyText(text: string, start: number, end: number): string {
  const inner = text.slice(start + 1, end - 1);
  return inner.includes('\\') ? (JSON.parse(text.slice(start, end)) as string) : inner;
}

/** Split the text of a JSON object into its keys and the exact text of each value. */
export function parseRawObject(text: string | null | undefined): RawImage | null {
  if (text === null || text === undefined) return null;
  const out: RawImage = new Map();
  let i = skipSpace(text, 0);
  if (text[i] !== '{') throw malformed('expected a JSON object');
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return out;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const key = keyText(text, i, keyEnd);
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') throw malformed('expected ":" in JSON object');
    i = skipSpace(text, i + 1);
    const end = valueEnd(text, i);
    out.set(key, text.slice(i, end));
    i = skipSpace(text, end);
    if (text[i] === '}') return out;
    if (text[i] !== ',') throw malformed('expected "," in JSON object');
    i = skipSpace(text, i + 1);
  }
}

/** A key is written as its own text (no quote, backslash or control character to escape). */
export function plainKey(key: string): boolean {
  for (let i = 0; i < key.length; i++) {
    const code = key.charCodeAt(i);
    if (code === QUOTE || code === BACKSLASH || code < 32) return false;
  }
  return true;
}

/**
 * The value texts of a JSON object whose keys are exactly `keys`, in this order (each a plainKey),
 * without making a map or a string per key; null when the object has other keys or another order
 * (parse it with parseRawObject then). A bulk statement's images all have the same keys.
 */
export function rawValuesOf(text: string, keys: readonly string[]): string[] | null {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== OPEN_BRACE) return null;
  i = skipSpace(text, i + 1);
  const out: string[] = new Array(keys.length);
  if (keys.length === 0) return text.charCodeAt(i) === CLOSE_BRACE ? out : null;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    if (
      text.charCodeAt(i) !== QUOTE ||
      !text.startsWith(key, i + 1) ||
      text.charCodeAt(i + 1 + key.length) !== QUOTE
    )
      return null;
    i = skipSpace(text, i + key.length + 2);
    if (text.charCodeAt(i) !== COLON) return null;
    i = skipSpace(text, i + 1);
    const end = valueEnd(text, i);
    out[k] = text.slice(i, end);
    i = skipSpace(text, end);
    const code = text.charCodeAt(i);
    if (k === keys.length - 1) return code === CLOSE_BRACE ? out : null;
    if (code !== COMMA) return null;
    i = skipSpace(text, i + 1);
  }
  return null;
}

/** The JSON text of an object with these exact value texts. */
export function rawObjectText(image: RawImage, only?: Iterable<string>): string {
  const keys = only ? [...only] : [...image.keys()];
  return `{${keys
    .filter((k) => image.has(k))
    .map((k) => `${JSON.stringify(k)}:${image.get(k)}`)
    .join(',')}}`;
}

/**
 * One value's stored text as parseExactJson reads it (a string, a number JavaScript holds
 * exactly, or else the number's text; objects and arrays through parseExactJson), without
 * parsing the whole row again: the common scalars are read directly.
 */
export function rawValue(text: string): unknown {
  const first = text.charCodeAt(0);
  if (first === QUOTE) return text.indexOf('\\') < 0 ? text.slice(1, -1) : JSON.parse(text);
  if (text === 'null') return null;
  if (text === 'true') return true;
  if (text === 'false') return false;
  // At most 15 digits and no exponent: always exactly a double (parseExactJson's LONG_DIGITS rule).
  if (text.length <= 15 && (first === 45 || (first >= 48 && first <= 57)) && !/[eE]/.test(text))
    return JSON.parse(text);
  return parseExactJson(text);
}

/** out[key] = value as JSON.parse sets it: "__proto__" an own property, not the prototype. */
export function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}
