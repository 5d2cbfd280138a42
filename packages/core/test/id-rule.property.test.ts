import { describeEachDb } from '@threadline/test-utils';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanContextId, validateAuditContext } from '../src/context/context.js';
import { ID_RULE, UNSAFE_ID_CHARACTERS } from '../src/context/id-rule.js';
import { ActorRef, isThreadlineError } from '../src/index.js';
import { installed } from './helpers.js';

// One rule for actor and context ids (src/context/id-rule.ts), applied by JavaScript and by the
// database's clean_context_id: the two must agree on every string, on accept or refuse and on the
// stored (trimmed) value, or a hand-written set_config and an adapter-bound id are cleaned apart.

/** Characters that read as nothing or as a plain space: each must be refused anywhere in an id. */
const INVISIBLE = [
  '\u034f', // combining grapheme joiner
  '\u115f',
  '\u1160',
  '\u3164',
  '\uffa0', // Hangul fillers
  '\u2800', // braille pattern blank
  '\u17b4',
  '\u17b5',
  '\u180b',
  '\u180c',
  '\u180d',
  '\u180e',
  '\u180f',
  '\ufe00',
  '\ufe0f',
  '\u{e0100}',
  '\u{e01ef}', // variation selectors
  '\u00a0',
  '\u1680',
  '\u2000',
  '\u2005',
  '\u200a',
  '\u202f',
  '\u205f',
  '\u3000', // spaces other than U+0020
  '\u200b',
  '\u200d',
  '\u2060',
  '\ufeff',
  '\u00ad',
  '\u202e',
  '\u2066', // format characters
  '\t',
  '\n',
  '\r',
  '\u0085',
  '\u2028',
  '\u2029',
  '\u007f', // controls and line separators
];

/** One character of an id: ASCII (spaces often), a refused one, or any code point. */
const piece = fc.oneof(
  { weight: 4, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 2, arbitrary: fc.constant(' ') },
  { weight: 2, arbitrary: fc.constantFrom(...INVISIBLE) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
);
/** Ids near every edge: empty, padded, refused characters inside or at either end, ~256 bytes. */
const id = fc
  .tuple(
    fc.constantFrom('', '', ' ', 'user:7', 'x'.repeat(250), 'é'.repeat(126), '\u{1F600}'.repeat(63)),
    fc.array(piece, { maxLength: 8 }),
    fc.constantFrom('', '', ' ', '  ', '\u00a0', 'x'),
  )
  .map(([head, middle, tail]) => head + middle.join('') + tail)
  // PostgreSQL text cannot hold NUL or a lone surrogate (JavaScript refuses both, checked below).
  .filter((s) => !s.includes('\u0000') && !/\p{Cs}/u.test(s));

/** What validateAuditContext makes of `value` as a correlation id: the id, or the error. */
function viaContext(value: string): string | null {
  try {
    return validateAuditContext({ correlationId: value }).correlationId ?? null;
  } catch (error) {
    expect(isThreadlineError(error) && error.code).toBe('INVALID_CONTEXT');
    expect((error as Error).message).toContain(ID_RULE);
    return null;
  }
}

/** What ActorRef.user makes of `value`: the id, or null when it refuses it (INVALID_ACTOR). */
function viaActor(value: string): string | null {
  try {
    const actor = ActorRef.user(value);
    return actor.type === 'anonymous' ? null : actor.id;
  } catch (error) {
    expect(isThreadlineError(error) && error.code).toBe('INVALID_ACTOR');
    return null;
  }
}

describe('id rule (JavaScript)', () => {
  it('covers every control, format, separator (but U+0020) and default-ignorable character this Node knows', () => {
    const mustRefuse = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]|(?! )\p{Zs}/u;
    const missing: string[] = [];
    for (let c = 0; c <= 0x10ffff; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const s = String.fromCodePoint(c);
      if (mustRefuse.test(s) && !UNSAFE_ID_CHARACTERS.test(s)) missing.push(`U+${c.toString(16)}`);
    }
    // A new Unicode version added one: add it to REFUSED in id-rule.ts (the database reads it too).
    expect(missing).toEqual([]);
    expect(UNSAFE_ID_CHARACTERS.test(' ')).toBe(false);
  });

  it('refuses the invisible and look-alike characters inside an id and at either end', () => {
    for (const ch of INVISIBLE) {
      for (const value of [`user:${ch}7`, `user:7${ch}`, `${ch}user:7`, ch]) {
        expect(cleanContextId(value), shown(value)).toBeUndefined();
        expect(() => ActorRef.user(value), shown(value)).toThrow(/no space other than U\+0020/);
        expect(() => validateAuditContext({ requestId: value }), shown(value)).toThrow(
          /requestId must be a non-empty string .* no control, format or invisible character/,
        );
      }
    }
    expect(() => ActorRef.fromString('user:7\u00a0')).toThrow(/no space other than U\+0020/);
  });

  it('trims U+0020 only', () => {
    expect(cleanContextId('  user:7 ')).toBe('user:7');
    expect(ActorRef.user(' 7 ')).toEqual({ type: 'user', id: '7' });
    expect(ActorRef.fromString(' user:7 ')).toEqual({ type: 'user', id: '7' });
    expect(validateAuditContext({ jobId: ' j ' }).jobId).toBe('j');
    expect(cleanContextId('\u00a0user:7')).toBeUndefined();
    expect(cleanContextId('user:7\n')).toBeUndefined();
    expect(cleanContextId('\ufeffuser:7')).toBeUndefined();
  });

  it('refuses NUL and lone surrogates, which the database cannot receive as text', () => {
    for (const value of ['a\u0000', 'a\ud800', '\udc00a']) {
      expect(cleanContextId(value)).toBeUndefined();
      expect(() => ActorRef.user(value)).toThrow(/lone UTF-16 surrogate/);
    }
  });
});

describeEachDb('id rule: JavaScript and clean_context_id agree', (db) => {
  it('accept and refuse the same ids and store the same value', async () => {
    await installed(db());
    const ids = fc.sample(id, { numRuns: 1500, seed: 20261208 });
    ids.push(...INVISIBLE.flatMap((ch) => [`user:${ch}7`, `user:7${ch}`, `${ch}user:7`]));
    ids.push(' user:7 ', 'user:7', 'x'.repeat(256), ` ${'x'.repeat(256)} `, 'x'.repeat(257));
    const rows = await db().sql<{ clean: string | null }>(
      `select threadline.clean_context_id(to_jsonb(v)) as clean
         from unnest($1::text[]) with ordinality as u(v, i) order by i`,
      [ids],
    );
    const sql = rows.map((r) => r.clean);
    const js = ids.map((s) => cleanContextId(s) ?? null);
    const disagree = ids
      .map((s, i) => ({ id: shown(s), js: js[i], sql: sql[i] }))
      .filter((d) => d.js !== d.sql);
    expect(disagree).toEqual([]);
    // The entry points that throw apply the same rule (and name it).
    expect(ids.map(viaContext)).toEqual(sql);
    expect(ids.map(viaActor)).toEqual(sql);
    // Both outcomes are well represented.
    expect(sql.filter((v) => v === null).length).toBeGreaterThan(300);
    expect(sql.filter((v) => v !== null).length).toBeGreaterThan(300);
  });

  it('records a context error, never an id, for an invisible character bound by hand-written SQL', async () => {
    await installed(db());
    for (const [actorId, correlationId] of [
      ['7\u00a0', 'c\u3164'],
      ['\u2800', ' c\u{e0100} '],
    ]) {
      const [started] = await db().sql<{ id: string }>(
        `select (select threadline.current_transaction_id() where b.a is not null)::text as id
           from (select set_config('threadline.actor_ref', $1, true) as a, set_config('threadline.context', $2, true) as c offset 0) b`,
        [JSON.stringify({ type: 'user', id: actorId }), JSON.stringify({ correlationId })],
      );
      const [row] = await db().sql<{ actor: unknown; correlation: string | null; errors: unknown }>(
        `select actor_ref as actor, correlation_id as correlation, meta -> 'threadline_context_error' as errors
           from threadline.audit_transactions where id = $1::bigint`,
        [started!.id],
      );
      expect(row).toEqual({
        actor: null,
        correlation: null,
        errors: {
          actor_ref: `threadline.actor_ref needs an id that is ${ID_RULE}`,
          correlationId: `must be ${ID_RULE}`,
        },
      });
    }
  });
});

function shown(value: string): string {
  return JSON.stringify(value).replace(/[^\x20-\x7e]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}
