/**
 * jsonb text as PostgreSQL prints it (`{"a": 1, "b": [1, 2]}`) made compact (`{"a":1,"b":[1,2]}`)
 * without parsing it, so numbers beyond 2^53 and every string are kept byte for byte.
 * PostgreSQL only puts a space after `,` and `:` outside strings; strings are copied as they are.
 */
export function compactJsonb(text: string): string {
  if (!text.includes(' ')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const quote = text.indexOf('"', i);
    const end = quote === -1 ? text.length : quote;
    if (end > i) out += text.slice(i, end).replaceAll(', ', ',').replaceAll(': ', ':');
    if (quote === -1) break;
    let close = quote + 1;
    for (;;) {
      close = text.indexOf('"', close);
      if (close === -1) return out + text.slice(quote); // not reachable for jsonb output
      let backslashes = 0;
      for (let b = close - 1; text.charCodeAt(b) === 92; b--) backslashes++;
      if (backslashes % 2 === 0) break;
      close++;
    }
    out += text.slice(quote, close + 1);
    i = close + 1;
  }
  return out;
}

/** A JSON string literal. */
export const jsonString = (value: string): string => JSON.stringify(value);
