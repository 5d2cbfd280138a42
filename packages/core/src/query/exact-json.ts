/**
 * JSON as PostgreSQL renders jsonb, read without losing digits. A JavaScript number is a double:
 * integers beyond ±(2^53 − 1) and decimals with more significant digits than a double holds
 * would silently become another value. Such numbers come back as strings holding exactly the
 * digits PostgreSQL stored; every other number comes back as a number.
 *
 * Rule (documented in docs/cli.md): an integer outside the safe range, or a number whose value
 * differs from the double nearest to it, is a string.
 */

// A JSON number token, anchored where the scanner stands.
const NUMBER = /-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
// Cheap pre-check: a number of at most 15 digits without an exponent is always exact, so text
// without a run of 16 digits (a decimal point may sit between them) needs no scan.
const LONG_DIGITS = /(?:\d\.?){15}\d|\d[eE]/;

/** The decimal value of a number token as [sign, significant digits, exponent of the last digit]. */
function decimal(token: string): [string, string, number] {
  const negative = token.startsWith('-');
  const body = negative ? token.slice(1) : token;
  const [mantissa = '', exp = '0'] = body.toLowerCase().split('e');
  const [whole = '', fraction = ''] = mantissa.split('.');
  let digits = (whole + fraction).replace(/^0+/, '');
  let exponent = Number(exp) - fraction.length;
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  if (digits === '') return ['+', '0', 0];
  return [negative ? '-' : '+', digits, exponent];
}

/** True when the number token reads back as exactly this value in JavaScript. */
function isExactNumber(token: string): boolean {
  const n = Number(token);
  if (!Number.isFinite(n)) return false;
  if (Number.isInteger(n) && !Number.isSafeInteger(n)) return false;
  const a = decimal(token);
  const b = decimal(n.toString());
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2];
}

// A string that cannot occur in jsonb (PostgreSQL rejects \u0000 in text and jsonb) marks the
// numbers replaced by their text while parsing.
const MARK = '\u0000';

/** JSON.parse, except that numbers JavaScript cannot hold exactly come back as their exact text. */
export function parseExactJson(text: string): unknown {
  if (!LONG_DIGITS.test(text)) return JSON.parse(text);
  let out = '';
  let last = 0;
  let marked = false;
  for (let i = 0; i < text.length; ) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) {
      // Skip a string literal, honouring escapes.
      i++;
      while (i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 0x5c) i += 2;
        else if (c === 0x22) break;
        else i++;
      }
      i++;
      continue;
    }
    if (ch === 0x2d || (ch >= 0x30 && ch <= 0x39)) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(text);
      if (!m) return JSON.parse(text); // let JSON.parse report the syntax error
      const token = m[0];
      if (!isExactNumber(token)) {
        out += `${text.slice(last, i)}"\\u0000${token}"`;
        last = i + token.length;
        marked = true;
      }
      i += token.length;
      continue;
    }
    i++;
  }
  if (!marked) return JSON.parse(text);
  out += text.slice(last);
  return JSON.parse(out, (_key, value) =>
    typeof value === 'string' && value.startsWith(MARK) ? value.slice(1) : value,
  );
}

/** A jsonb value selected as text (`col::text`), read exactly; null stays null. */
export function exactJsonb<T>(value: unknown): T {
  if (value === null || value === undefined) return null as T;
  if (typeof value !== 'string') return value as T; // already parsed by a driver: nothing to recover
  return parseExactJson(value) as T;
}
