import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExactJson } from '../src/query/exact-json.js';
import { parseRawObject, rawObjectText, rawObjectValues, rawObjectWriter } from '../src/revert/raw-json.js';

// set-steps.ts writes a bulk statement's images with one writer per column list; it must give the
// same text as rawObjectText: compact, in the given column order, absent columns left out, each
// value's stored text (exact digits, escapes) kept as it is.
describe('rawObjectWriter', () => {
  it('writes the same text as rawObjectText', () => {
    const images = [
      '{"a": 1, "b": "x, y", "c": null}',
      '{"b": 123456789012345678901234567890.0000000001, "a": [1, {"q": "\\"}"}]}',
      '{"we\\"ird": "\\u00e9", "a": true}',
      '{}',
    ];
    for (const columns of [['b', 'a', 'c', 'we"ird'], ['c'], []])
      for (const text of images) {
        const image = parseRawObject(text)!;
        const written = rawObjectWriter(columns)(image);
        expect(written).toBe(rawObjectText(image, columns));
        JSON.parse(written);
      }
    expect(rawObjectWriter(['b', 'a'])(parseRawObject('{"a": 1, "b": "x, y"}')!)).toBe('{"b":"x, y","a":1}');
  });
});

// set-steps.ts builds a step's `set` from the parsed image (rawObjectValues) instead of parsing
// the written text again; it must give what parseExactJson gives for that text, key order,
// exact digits (as strings), escapes and a "__proto__" column included.
describe('rawObjectValues', () => {
  const check = (text: string) => {
    const image = parseRawObject(text)!;
    const columns = [...image.keys()];
    const written = rawObjectWriter(columns)(image);
    const values = rawObjectValues(image, columns);
    expect(values).toStrictEqual(parseExactJson(written));
    expect(Object.keys(values)).toEqual(Object.keys(parseExactJson(written) as object));
  };

  it('reads every value as parseExactJson does', () => {
    for (const text of [
      '{"a": 1, "b": "x, y", "c": null, "d": true, "e": false}',
      '{"big": 9007199254740993, "dec": 0.1, "long": 123456789012345678901234567890.0000000001, "neg": -0, "exp": 1e400}',
      '{"n15": 123456789012345, "n16": 1234567890123456, "f": 1.50, "s": "\\"q\\" \\\\ \\u00e9 \\n"}',
      '{"__proto__": {"polluted": 1}, "constructor": "c", "2": "two", "1": "one"}',
      '{"doc": {"n": 12345678901234567890123, "a": [1, null, "x"]}, "arr": [[1, 2.50], []]}',
      '{}',
    ])
      check(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('matches parseExactJson for any JSON object (property test)', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        check(JSON.stringify(object));
      }),
      { numRuns: 500 },
    );
  });
});
