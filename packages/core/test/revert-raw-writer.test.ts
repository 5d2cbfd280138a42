import { describe, expect, it } from 'vitest';
import { parseRawObject, rawObjectText, rawObjectWriter } from '../src/revert/raw-json.js';

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
