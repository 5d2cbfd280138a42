/**
 * jsonb text as PostgreSQL prints it (`{"a": 1, "b": [1, 2]}`) made compact (`{"a":1,"b":[1,2]}`)
 * without parsing it, so numbers beyond 2^53 and every string are kept byte for byte.
 * PostgreSQL only puts a space after `,` and `:` outside strings; strings are copied as they are.
 */
export function compactJsonb(text: string): string {
  let space = text.indexOf(' ');
  if (space === -1) return text;
  let out = '';
  let copied = 0;
  let quote = text.indexOf('"');
  while (space !== -1) {
    if (quote !== -1 && quote < space) {
      // Skip the string that starts at `quote` (spaces in it are data), then look again.
      const close = closingQuote(text, quote);
      quote = text.indexOf('"', close + 1);
      if (space < close) space = text.indexOf(' ', close + 1);
      continue;
    }
    out += text.slice(copied, space);
    copied = space + 1;
    space = text.indexOf(' ', copied);
  }
  return out + text.slice(copied);
}

/** The index of the quote that closes the JSON string opened at `open`. */
function closingQuote(text: string, open: number): number {
  let close = open;
  for (;;) {
    close = text.indexOf('"', close + 1);
    if (close === -1) return text.length; // not reachable for jsonb output
    let backslashes = 0;
    for (let b = close - 1; text.charCodeAt(b) === 92; b--) backslashes++;
    if (backslashes % 2 === 0) return close;
  }
}

/** A JSON string literal. */
export const jsonString = (value: string): string => JSON.stringify(value);
