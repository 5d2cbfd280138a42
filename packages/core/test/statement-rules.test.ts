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
