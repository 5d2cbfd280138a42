import { describe, expect, it } from 'vitest';
import { toKnexRaw } from '../src/raw-sql.js';

describe('toKnexRaw: $N placeholders to knex bindings', () => {
  it('rewrites $N only in SQL text, never inside literals, identifiers, dollar quotes or comments', () => {
    expect(toKnexRaw(`insert into t (id, actor, note) values ($1, $2, 'save $5 today')`, [1, 'u1'])).toEqual([
      `insert into t (id, actor, note) values (?, ?, 'save $5 today')`,
      [1, 'u1'],
    ]);
    expect(
      toKnexRaw(
        `select $1, "col$2", 'it''s $3', E'a\\' $4', $tag$ $5 $tag$, $$ $6 $$ -- $7\n, /* $8 /* $9 */ */ $2`,
        ['a', 'b'],
      ),
    ).toEqual([
      `select ?, "col$2", 'it''s $3', E'a\\' $4', $tag$ $5 $tag$, $$ $6 $$ -- $7\n, /* $8 /* $9 */ */ ?`,
      ['a', 'b'],
    ]);
    expect(toKnexRaw('select a$1 from t where x = $1', [5])).toEqual(['select a$1 from t where x = ?', [5]]);
  });

  it('escapes every ? so knex binds nothing of its own', () => {
    expect(toKnexRaw(`select '?' , $1 ? 'k'`, [{}])).toEqual([`select '\\?' , ? \\? 'k'`, [{}]]);
  });
});
