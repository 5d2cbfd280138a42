/**
 * Row images as PostgreSQL stored them, column by column, without JSON.parse rounding: a
 * numeric(30,10) or a bigint past 2^53 is written back from its exact stored text.
 */
export type RawImage = Map<string, string>;

function skipSpace(text: string, i: number): number {
  while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r')) i++;
  return i;
}

/** End index (exclusive) of the JSON string starting at `i` (a `"`). */
function stringEnd(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  throw new Error('unterminated JSON string');
}

/** End index (exclusive) of the JSON value starting at `i`. */
function valueEnd(text: string, i: number): number {
  const first = text[i];
  if (first === '"') return stringEnd(text, i);
  if (first === '{' || first === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const ch = text[j];
      if (ch === '"') j = stringEnd(text, j) - 1;
      else if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new Error('unterminated JSON value');
  }
  let j = i;
  while (j < text.length && !',}] \n\t\r'.includes(text[j]!)) j++;
  return j;
}

/** Split the text of a JSON object into its keys and the exact text of each value. */
export function parseRawObject(text: string | null | undefined): RawImage | null {
  if (text === null || text === undefined) return null;
  const out: RawImage = new Map();
  let i = skipSpace(text, 0);
  if (text[i] !== '{') throw new Error('expected a JSON object');
  i = skipSpace(text, i + 1);
  if (text[i] === '}') return out;
  for (;;) {
    const keyEnd = stringEnd(text, i);
    const key = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipSpace(text, keyEnd);
    if (text[i] !== ':') throw new Error('expected ":" in JSON object');
    i = skipSpace(text, i + 1);
    const end = valueEnd(text, i);
    out.set(key, text.slice(i, end));
    i = skipSpace(text, end);
    if (text[i] === '}') return out;
    if (text[i] !== ',') throw new Error('expected "," in JSON object');
    i = skipSpace(text, i + 1);
  }
}

/** The JSON text of an object with these exact value texts. */
export function rawObjectText(image: RawImage, only?: Iterable<string>): string {
  const keys = only ? [...only] : [...image.keys()];
  return `{${keys
    .filter((k) => image.has(k))
    .map((k) => `${JSON.stringify(k)}:${image.get(k)}`)
    .join(',')}}`;
}

/** Display values (JSON.parse of each exact text). */
export function displayObject(image: RawImage, only?: Iterable<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of only ?? image.keys()) if (image.has(k)) out[k] = JSON.parse(image.get(k)!);
  return out;
}
