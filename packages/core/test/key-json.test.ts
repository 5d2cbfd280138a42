import { describe, expect, it } from 'vitest';
import { isThreadlineError } from '../src/index.js';
import { keyJson } from '../src/query/validate.js';

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'no error';
}

describe('keyJson', () => {
  it('refuses U+0000 in a key value or key column name as a usage error (no row can have it)', () => {
    expect(codeOf(() => keyJson('a\u0000', 'history'))).toBe(
      'QUERY_INVALID: history: key values cannot contain U+0000 (NUL); no row has such a key',
    );
    expect(codeOf(() => keyJson({ id: '\u0000' }, 'asOf'))).toMatch(
      /^QUERY_INVALID: asOf: key values cannot contain U\+0000/,
    );
    expect(codeOf(() => keyJson({ 'i\u0000d': 1 }, 'asOf'))).toMatch(
      /^QUERY_INVALID: asOf: key column names cannot contain/,
    );
  });

  it('keeps exact keys: bigints and big-number strings as text, safe numbers as numbers', () => {
    expect(keyJson(9007199254740993n, 'history')).toBe('"9007199254740993"');
    expect(keyJson({ a: '9007199254740993', b: 1 }, 'history')).toBe('{"a":"9007199254740993","b":1}');
  });
});
