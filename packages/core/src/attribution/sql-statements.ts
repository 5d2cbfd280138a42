/**
 * The top-level statements of a SQL string, split at the semicolons PostgreSQL itself would split
 * at: not inside a string ('…', E'…' with backslash escapes), a quoted identifier, a dollar-quoted
 * body ($$…$$, $tag$…$tag$) or a comment (line comments and nested block comments). Empty statements are dropped.
 * Used only to classify a script (which statements control the transaction), never to rewrite it.
 */
export function splitStatements(sql: string): string[] {
  return lexStatements(sql).map((s) => s.text);
}

/** One top-level statement: its text as written, and its code (comments replaced by a space, trimmed). */
export interface LexedStatement {
  readonly text: string;
  readonly code: string;
}

/**
 * The top-level statements of `sql` (see splitStatements), each with its code: the statement with
 * every comment replaced by one space, so keywords can be matched without a comment hiding a `;`
 * or sitting between them (`commit /* ; *\/`, `start /**\/ transaction`). Statements whose code is
 * empty (only comments) are dropped.
 */
export function lexStatements(sql: string): LexedStatement[] {
  if (!/[;/-]/.test(sql)) {
    // No semicolon and no comment can start: one statement (or none), as written.
    const text = sql.trim();
    return text === '' ? [] : [{ text, code: text }];
  }
  const statements: LexedStatement[] = [];
  let start = 0;
  let i = 0;
  let code = '';
  let copied = 0;
  const cut = (from: number) => {
    code += `${sql.slice(copied, from)} `;
  };
  const push = (end: number) => {
    code += sql.slice(copied, end);
    const text = sql.slice(start, end).trim();
    const trimmed = code.trim();
    if (trimmed !== '') statements.push({ text, code: trimmed });
    code = '';
  };
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      const backslashes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]!) && !/\w/.test(sql[i - 2] ?? ' ');
      i += 1;
      while (i < sql.length) {
        if (backslashes && sql[i] === '\\') i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) {
          i += 1;
          break;
        } else i += 1;
      }
    } else if (c === '-' && next === '-') {
      cut(i);
      const nl = sql.indexOf('\n', i);
      i = nl === -1 ? sql.length : nl + 1;
      copied = i;
    } else if (c === '/' && next === '*') {
      cut(i);
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') {
          depth++;
          i += 2;
        } else if (sql[i] === '*' && sql[i + 1] === '/') {
          depth--;
          i += 2;
        } else i += 1;
      }
      copied = i;
    } else if (c === '$' && !/[A-Za-z0-9_\u0080-\uffff]/.test(sql[i - 1] ?? ' ')) {
      const tag = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close === -1 ? sql.length : close + tag[0].length;
      } else i += 1;
    } else if (c === ';') {
      push(i);
      i += 1;
      start = i;
      copied = i;
    } else i += 1;
  }
  push(sql.length);
  return statements;
}
