import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installScript } from '../src/install/install-script.js';
import { installed, uniqueName } from './helpers.js';

/**
 * The plain '…' literals of SQL text that hold a backslash: they mean something else in a session
 * with standard_conforming_strings = off (PL/pgSQL compiles a function's statements under the
 * session's setting), so Threadline has none (E'…' literals or bracket classes instead).
 * Comments, quoted identifiers and dollar-quote delimiters are skipped; dollar-quoted bodies are
 * read as SQL.
 */
function plainLiteralsWithBackslash(sql: string): string[] {
  const found: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end < 0 ? sql.length : end + 1;
    } else if (ch === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end < 0 ? sql.length : end + 2;
    } else if (ch === '"') {
      let j = i + 1;
      while (j < sql.length && !(sql[j] === '"' && sql[j + 1] !== '"')) j += sql[j] === '"' ? 2 : 1;
      i = j + 1;
    } else if (ch === '$' && !/\w/.test(sql[i - 1] ?? '')) {
      const tag = /^\$(?:[A-Za-z_]\w*)?\$/.exec(sql.slice(i));
      i += tag ? tag[0].length : 1;
    } else if (ch === "'") {
      const escaped = /[eE]/.test(sql[i - 1] ?? '') && !/\w/.test(sql[i - 2] ?? '');
      let j = i + 1;
      let body = '';
      while (j < sql.length) {
        if (escaped && sql[j] === '\\') {
          body += sql.slice(j, j + 2);
          j += 2;
        } else if (sql[j] === "'" && sql[j + 1] === "'") {
          body += "''";
          j += 2;
        } else if (sql[j] === "'") {
          break;
        } else {
          body += sql[j];
          j += 1;
        }
      }
      if (!escaped && body.includes('\\')) found.push(body);
      i = j + 1;
    } else {
      i += 1;
    }
  }
  return found;
}

describeEachDb('no plain SQL literal of Threadline holds a backslash', (db) => {
  it('neither the install script nor any function in the storage schema, generated capture included', async () => {
    expect(plainLiteralsWithBackslash("select 'a\\b', E'c\\\\d', $x$ 'e\\f' $x$ -- 'g\\h'")).toEqual([
      'a\\b',
      'e\\f',
    ]);
    expect(plainLiteralsWithBackslash(installScript('threadline'))).toEqual([]);
    expect(plainLiteralsWithBackslash(installScript('odd\\schema'))).toEqual([]);
    const tl = await installed(db());
    const t = uniqueName('lit');
    await db().exec(`create table "${t}\\x" (id int primary key, "v\\w" text)`);
    await tl.installTriggers({ tables: [`${t}\\x`] });
    const functions = await db().sql<{ name: string; src: string }>(
      `select p.proname as name, p.prosrc as src from pg_proc p
        where p.pronamespace = 'threadline'::regnamespace and p.prolang in (select l.oid from pg_language l where l.lanname in ('sql', 'plpgsql'))`,
    );
    expect(functions.length).toBeGreaterThan(50);
    const offending = functions.flatMap((f) =>
      plainLiteralsWithBackslash(f.src).map((lit) => `${f.name}: ${lit}`),
    );
    expect(offending).toEqual([]);
  });
});
