import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseExactJson } from '../src/query/exact-json.js';
import { ImageRows } from '../src/revert/image-rows.js';
import { parseRawObject, rawObjectText } from '../src/revert/raw-json.js';

// set-steps.ts reads a bulk statement's images with ImageRows: each image's `data` must be the
// text rawObjectText writes for its columns and its `set` what parseExactJson reads from that
// text (key order, exact digits as strings, escapes, a "__proto__" column), whatever the images
// before it were (same keys, other keys, keys that need escapes, another op).
describe('ImageRows', () => {
  const order = (op: string, keys: string[]) => (op === 'insert' ? [...keys].reverse() : [...keys].sort());
  const check = (rows: ImageRows, op: string, text: string) => {
    rows.read(op, text);
    const image = parseRawObject(text)!;
    const columns = order(op, [...image.keys()]);
    expect(rows.columns).toEqual(columns);
    expect(rows.data).toBe(rawObjectText(image, columns));
    expect(rows.set).toStrictEqual(parseExactJson(rows.data));
    expect(Object.keys(rows.set)).toEqual(Object.keys(parseExactJson(rows.data) as object));
  };

  it('reads every image as rawObjectText and parseExactJson do', () => {
    const rows = new ImageRows(order);
    const texts = [
      '{"a": 1, "b": "x, y", "c": null, "d": true, "e": false}',
      '{"a": 2, "b": "\\"q\\" \\\\ \\u00e9 \\n", "c": 1.50, "d": [1, {"q": "\\"}"}], "e": {"n": 12345678901234567890123}}',
      '{"a": 3, "b": "z", "c": null, "d": true}',
      '{"big": 9007199254740993, "dec": 0.1, "long": 123456789012345678901234567890.0000000001, "neg": -0, "exp": 1e400}',
      '{"n15": 123456789012345, "n16": 1234567890123456}',
      '{"__proto__": {"polluted": 1}, "constructor": "c", "2": "two", "1": "one"}',
      '{"__proto__": {"polluted": 2}, "constructor": "d", "2": "2", "1": "1"}',
      '{"we\\"ird": 1, "a\\\\b": 2}',
      '{"we\\"ird": 3, "a\\\\b": 4}',
      '{"a\\b": 5, "we\\"ird": 6}',
      '{}',
      '{"a": 4, "b": "w", "c": null, "d": false, "e": true}',
    ];
    for (const op of ['insert', 'update']) for (const text of texts) check(rows, op, text);
    for (const text of texts) for (const op of ['insert', 'update']) check(rows, op, text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('matches rawObjectText and parseExactJson for any JSON objects (property test)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('insert', 'update'), fc.dictionary(fc.string(), fc.jsonValue())), {
          minLength: 1,
          maxLength: 6,
        }),
        (images) => {
          const rows = new ImageRows(order);
          for (const [op, object] of images) {
            check(rows, op, JSON.stringify(object));
            check(rows, op, JSON.stringify(object)); // the same keys again: the fast path
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
