import { describe, expect, it } from 'vitest';
import {
  isProvablyReadOnly,
  needsAttribution,
  transactionControl,
} from '../src/attribution/statement-rules.js';

describe('the write-detection rule against statements built to fool it', () => {
  it('nested block comments hide nothing: PostgreSQL nests them, so does the rule', () => {
    expect(needsAttribution('/* outer /* inner */ show all */ insert into t values (1)')).toBe(true);
    expect(transactionControl('/* /* */ select */ begin')).toBe('begin');
    expect(transactionControl('-- c\n/* a /* b */ c */ commit')).toBe('end');
  });

  it('EXPLAIN with a quoted or U& option name may be ANALYZE: attributed', () => {
    expect(isProvablyReadOnly('explain (U&"\\0061nalyze") insert into t values (1)')).toBe(false);
    expect(isProvablyReadOnly('explain ("analyze") insert into t values (1)')).toBe(false);
    expect(isProvablyReadOnly('explain select 1')).toBe(true);
    expect(isProvablyReadOnly('show all')).toBe(true);
  });
});

describe('transaction control inside a script', () => {
  it('splits only at top-level semicolons', async () => {
    const { splitStatements } = await import('../src/attribution/sql-statements.js');
    expect(
      splitStatements(
        "select ';'; select E'\\';'; select \";\"; do $x$ begin commit; end $x$; -- ; c\n/* ; /* ; */ */ commit;;",
      ),
    ).toEqual([
      "select ';'",
      "select E'\\';'",
      'select ";"',
      'do $x$ begin commit; end $x$',
      '-- ; c\n/* ; /* ; */ */ commit',
    ]);
  });

  it('classifies what a script leaves behind', async () => {
    const { scriptTransactionControl, mayCommitInside } = await import(
      '../src/attribution/statement-rules.js'
    );
    expect(scriptTransactionControl('begin; insert into t values (1); commit;')).toBe('closed');
    expect(scriptTransactionControl('insert into t values (1); begin; insert into t values (2)')).toBe(
      'open',
    );
    expect(scriptTransactionControl("select 'begin; commit'; select 1")).toBe('none');
    expect(scriptTransactionControl('commit')).toBe('none');
    expect(transactionControl('begin; insert into t values (1); commit')).toBeNull();
    expect(needsAttribution('begin; insert into t values (1); commit')).toBe(true);
    expect(mayCommitInside('select 1; CALL p()')).toBe(true);
    expect(mayCommitInside('/* x */ do $$ begin end $$')).toBe(true);
    expect(mayCommitInside("select 'call p()'")).toBe(false);
  });
});
