/**
 * Which row a stored key names, as comparable text. jsonb renders a numeric key with the scale it
 * was written with (1 and 1.0, 6 and 6.0000 in an unconstrained numeric column, or before and after
 * an ALTER TYPE of the key column), yet the column's equality (and jsonb's, and the key hash) sees one
 * value: PostgreSQL's `WHERE id = 1` finds the row either way. The identity is the key's text with
 * every number outside strings in its shortest form (trailing fraction zeros and -0 dropped), so
 * two renderings of one key compare equal in JavaScript as they do in SQL.
 */
export function keyIdentity(text: string): string;
export function keyIdentity(text: string | null): string | null;
export function keyIdentity(text: string | null): string | null {
  if (text === null) return null;
  // The common case (integer, uuid, text keys without a decimal point or a minus zero): as it is.
  if (!text.includes('.') && !text.includes('-0')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      // A string: copied as it is, escapes included.
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      NUMBER.lastIndex = i;
      const token = NUMBER.exec(text)?.[0] ?? ch;
      out += shortest(token);
      i += token.length;
    } else {
      out += ch;
      i += 1;
    }
  }
  return out;
}

// jsonb renders numbers in plain notation (numeric_out): no exponent.
const NUMBER = /-?\d+(?:\.\d+)?/y;

function shortest(token: string): string {
  let t = token.includes('.') ? token.replace(/0+$/, '').replace(/\.$/, '') : token;
  if (/^-0+$/.test(t)) t = '0';
  return t;
}

/** Whether two stored keys name the same row (see keyIdentity). */
export const sameKey = (a: string | null, b: string | null): boolean =>
  a === b || (a !== null && b !== null && keyIdentity(a) === keyIdentity(b));
