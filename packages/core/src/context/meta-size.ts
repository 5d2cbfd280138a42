/**
 * The size of a context's meta as the database measures it: the UTF-8 bytes of PostgreSQL's
 * jsonb text form of it, `octet_length(meta::text)`. That form differs from JSON.stringify: a
 * space follows every ':' and ',', and a number prints as the decimal it is, never with an
 * exponent (1e300 is a 1 and 300 zeros, 5e-324 is "0." and 324 digits). Strings are escaped
 * alike by both (", \, \b \f \n \r \t, other control characters as \u00XX).
 */

/** The length of the text PostgreSQL's numeric prints for a JS number (its JSON text, ASCII). */
function numericTextLength(n: number): number {
  const json = JSON.stringify(n);
  const e = json.indexOf('e');
  if (e < 0) return json.length;
  const sign = json.startsWith('-') ? 1 : 0;
  const mantissa = json.slice(sign, e);
  const exponent = Number(json.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const fraction = dot < 0 ? 0 : mantissa.length - dot - 1;
  // JS writes exponents only with one non-zero digit before the point: digits = all of them.
  const digits = mantissa.length - (dot < 0 ? 0 : 1);
  const scale = fraction - exponent; // digits after the decimal point (numeric's dscale)
  if (scale <= 0) return sign + digits - scale; // an integer: the digits, then zeros
  if (digits > scale) return sign + digits + 1; // d...d.d...d
  return sign + 2 + scale; // 0.0...0d...d
}

/**
 * `octet_length(value::jsonb::text)` for a value JSON.parse returned (or a plain object of
 * strings, finite numbers, booleans and nulls).
 */
export function jsonbTextBytes(value: unknown): number {
  if (value === null) return 4;
  switch (typeof value) {
    case 'string':
      return Buffer.byteLength(JSON.stringify(value), 'utf8');
    case 'number':
      return numericTextLength(value);
    case 'boolean':
      return value ? 4 : 5;
    case 'object':
      break;
    default:
      return 0;
  }
  if (Array.isArray(value)) {
    let bytes = 2 + Math.max(0, value.length - 1) * 2; // [ ] and ", " between items
    for (const item of value) bytes += jsonbTextBytes(item);
    return bytes;
  }
  const keys = Object.keys(value as Record<string, unknown>);
  // { } and ", " between entries; each entry is "key": value
  let bytes = 2 + Math.max(0, keys.length - 1) * 2;
  for (const key of keys) {
    bytes += Buffer.byteLength(JSON.stringify(key), 'utf8') + 2;
    bytes += jsonbTextBytes((value as Record<string, unknown>)[key]);
  }
  return bytes;
}
