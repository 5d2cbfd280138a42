import { describe, expect, it } from 'vitest';
import { csvCell } from '../src/export/format/csv.js';
import { compactJsonb } from '../src/export/format/json-text.js';

describe('export formatting', () => {
  it('compactJsonb removes only the spaces PostgreSQL adds between tokens, never inside strings', () => {
    const cases = [
      '{"a": 1, "b": [1, 2, {"c": null}]}',
      '{"a\\\\": "x, y: z", "b": "\\"q\\", r: ", "c": "\\\\"}',
      '{"": "", " ": " , : "}',
      '["emoji 🧵, ok", "tab\\t, cr\\r: lf\\n"]',
      '"a string: with, separators"',
      '12',
      '{"k": {"k": {"k": []}}}',
    ];
    for (const text of cases) {
      const compact = compactJsonb(text);
      expect(compact).toBe(JSON.stringify(JSON.parse(text)));
    }
    expect(compactJsonb('{"big": 12345678901234567890123, "d": 1.000000000000000000001}')).toBe(
      '{"big":12345678901234567890123,"d":1.000000000000000000001}',
    );
  });

  it('csvCell quotes what RFC 4180 needs and guards formula starts', () => {
    expect(csvCell(null, true)).toBe('');
    expect(csvCell('plain', true)).toBe('plain');
    expect(csvCell('a,b', true)).toBe('"a,b"');
    expect(csvCell('say "hi"', true)).toBe('"say ""hi"""');
    expect(csvCell('lone\rcr', true)).toBe('"lone\rcr"');
    expect(csvCell('=1+1', true)).toBe("'=1+1");
    expect(csvCell('=1+1', false)).toBe('=1+1');
    expect(csvCell('+1', true)).toBe("'+1");
    expect(csvCell('-1', true)).toBe("'-1");
    expect(csvCell('@x', true)).toBe("'@x");
    expect(csvCell('\tx', true)).toBe("'\tx");
    expect(csvCell('\rx', true)).toBe('"\'\rx"');
    expect(csvCell('=A1,"b"', true)).toBe('"\'=A1,""b"""');
    expect(csvCell("'=already", true)).toBe("'=already");
  });
});
