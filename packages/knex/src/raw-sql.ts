import type { Knex } from 'knex';

/**
 * node-postgres SQL (`$1` placeholders) as a knex raw statement (`?` bindings), for tl.query inside
 * a knex transaction.
 */
export function toKnexRaw(sql: string, params: readonly unknown[] = []): [string, Knex.RawBinding[]] {
  const bindings: Knex.RawBinding[] = [];
  let text = '';
  let i = 0;
  // `$N` placeholders become knex's `?` only in SQL text: never inside a string literal, a quoted
  // identifier, a dollar-quoted body or a comment. Every `?` is escaped (knex binds `?` anywhere).
  while (i < sql.length) {
    const c = sql[i]!;
    const next = sql[i + 1];
    let end = i + 1;
    if (c === "'" || c === '"') {
      end = i + 1;
      const backslashes = c === "'" && i > 0 && /[eE]/.test(sql[i - 1]!) && !/\w/.test(sql[i - 2] ?? ' ');
      while (end < sql.length) {
        if (backslashes && sql[end] === '\\') end += 2;
        else if (sql[end] === c && sql[end + 1] === c) end += 2;
        else if (sql[end] === c) {
          end += 1;
          break;
        } else end += 1;
      }
    } else if (c === '-' && next === '-') {
      const nl = sql.indexOf('\n', i);
      end = nl === -1 ? sql.length : nl;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      end = i + 2;
      while (end < sql.length && depth > 0) {
        if (sql[end] === '/' && sql[end + 1] === '*') {
          depth++;
          end += 2;
        } else if (sql[end] === '*' && sql[end + 1] === '/') {
          depth--;
          end += 2;
        } else end += 1;
      }
    } else if (
      c === '$' &&
      next !== undefined &&
      /\d/.test(next) &&
      !/[A-Za-z0-9_$]/.test(sql[i - 1] ?? ' ')
    ) {
      const m = /^\$(\d+)/.exec(sql.slice(i))!;
      bindings.push(params[Number(m[1]) - 1] as Knex.RawBinding);
      text += '?';
      i += m[0].length;
      continue;
    } else if (c === '$') {
      const tag = /^\$[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*\$|^\$\$/.exec(sql.slice(i));
      if (tag && !/[A-Za-z0-9_]/.test(sql[i - 1] ?? ' ')) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        end = close === -1 ? sql.length : close + tag[0].length;
      }
    }
    text += sql.slice(i, end).replace(/\?/g, '\\?');
    i = end;
  }
  return [text, bindings];
}
