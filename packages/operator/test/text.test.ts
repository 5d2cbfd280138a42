import { describe, expect, it } from 'vitest';
import { clip, visible } from '../src/html/text.js';

describe('visible text', () => {
  it('escapes every control, format, separator and blank character, and keeps tab and newline', () => {
    expect(
      visible('ad\u200bmin|pay\u{1BCA1}ee|x\u0600y|tag\u{E0020}|\u202Eevil|a\u2028b|c\u0085d|e\u3164f'),
    ).toBe(
      'ad\\u{200b}min|pay\\u{1bca1}ee|x\\u{0600}y|tag\\u{e0020}|\\u{202e}evil|a\\u{2028}b|c\\u{0085}d|e\\u{3164}f',
    );
    expect(visible('line one\n\tline two')).toBe('line one\n\tline two');
  });

  it('cuts at a code point, never inside a surrogate pair', () => {
    expect(clip('😀😀😀', 2)).toEqual({ text: '😀😀…', clipped: 1 });
  });
});
