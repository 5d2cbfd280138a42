/** Quote a value for a POSIX shell (the CLI twin shown on each page): plain words stay plain. */
function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

export function cliCommand(parts: (string | [flag: string, value: string | null | undefined])[]): string {
  const words: string[] = [];
  for (const part of parts) {
    if (typeof part === 'string') words.push(part);
    else if (part[1] !== null && part[1] !== undefined && part[1] !== '')
      words.push(part[0], shellQuote(part[1]));
  }
  return words.join(' ');
}
