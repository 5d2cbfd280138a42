import { describeEachDb } from '@threadline/test-utils';
import fc from 'fast-check';
import { expect, it } from 'vitest';
import { installed } from './helpers.js';

// begin_audit_transaction skips the field-by-field rules when context_is_clean says the bound actor
// and context need no cleaning. That shortcut must never take a value the rules would change or
// refuse: whenever it answers true, every id is already what clean_context_id makes of it.

const ID_FIELDS = ['correlationId', 'requestId', 'jobId', 'causationId', 'source'] as const;

/** Strings near every rule's edge: spaces, control and format characters, quotes, lengths. */
const edgy = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.constantFrom('', ' ', ' a', 'a ', 'a: b', '"', '\\', '\u0085', '\u200b', '\u00a0x', 'é'),
  // Invisible and look-alike characters of the id rule (src/context/id-rule.ts), alone and at an end.
  fc.constantFrom(
    '\u034f',
    'a\u3164',
    '\u2800',
    'a\u{e0100}',
    '\ufe0f',
    'a\u3000',
    '\u2007a',
    'a\u205f',
    '\u17b4',
  ),
  fc.constantFrom('x'.repeat(64), 'x'.repeat(65), 'x'.repeat(240), 'x'.repeat(256), 'x'.repeat(257)),
  fc.constantFrom('\u{1F600}'.repeat(64), '\u{1F600}'.repeat(65)),
);
const value = fc.oneof(
  { weight: 6, arbitrary: edgy.filter((s) => !s.includes('\u0000')) },
  { weight: 1, arbitrary: fc.constantFrom(null, 42, 1.5, true, [], {}) },
);
const actor = fc.oneof(
  fc.constant(null),
  fc.record(
    { type: fc.constantFrom('user', 'job', 'anonymous', 'robot'), id: value },
    { requiredKeys: ['type'] },
  ),
  fc.constantFrom({ type: 'anonymous' }, { type: 'user', id: '7', extra: 1 }, 'user', [1]),
);
const context = fc.oneof(
  fc.constant(null),
  fc.record(
    { ...Object.fromEntries(ID_FIELDS.map((f) => [f, value])), meta: fc.constant({ a: 1 }) },
    { requiredKeys: [] },
  ),
  fc.constantFrom({ correlationId: 'c', other: 1 }, [1], 'text', 5),
);

describeEachDb('context fast path', (db) => {
  it('answers clean only for an actor and context the full rules leave as they are', async () => {
    await installed(db());
    const cases: [unknown, unknown][] = fc.sample(fc.tuple(actor, context), { numRuns: 400, seed: 11 });
    cases.push(
      [{ type: 'user', id: '7' }, { correlationId: 'bench-instructions' }],
      [{ type: 'anonymous' }, { requestId: 'r', meta: { note: ' x ' } }],
      [null, null],
    );
    const rows = await db().sql<{ clean: boolean | null; same: boolean }>(
      `select threadline.context_is_clean(a, c, threadline.context_text(a, c)) as clean,
              (a is null or a = '{"type": "anonymous"}'
               or (jsonb_typeof(a) = 'object' and a - 'type' - 'id' = '{}'
                   and a ->> 'type' in ('user', 'admin', 'service_account', 'job', 'system')
                   and threadline.clean_context_id(a -> 'id') is not distinct from a ->> 'id'
                   and jsonb_typeof(a -> 'id') = 'string'))
              and (c is null
                   or (jsonb_typeof(c) = 'object'
                       and c - array['correlationId', 'requestId', 'jobId', 'causationId', 'source', 'meta'] = '{}'
                       and (select bool_and(jsonb_typeof(e.value) = 'string'
                                            and threadline.clean_context_id(e.value) is not distinct from e.value #>> '{}')
                              from jsonb_each(c - 'meta') e) is not false)) as same
         from unnest($1::text[], $2::text[]) with ordinality as u(at, ct, i)
         cross join lateral (select at::jsonb as a, ct::jsonb as c) j
        order by i`,
      [
        cases.map(([a]) => (a === null ? null : JSON.stringify(a))),
        cases.map(([, c]) => (c === null ? null : JSON.stringify(c))),
      ],
    );
    const clean = rows.map((r) => r.clean === true);
    rows.forEach((r, i) => {
      if (r.clean) expect({ case: cases[i], same: r.same }).toEqual({ case: cases[i], same: true });
    });
    // The shortcut is taken for the common shapes (and is not dead code).
    expect(clean.slice(-3)).toEqual([true, true, true]);
    expect(clean.filter(Boolean).length).toBeGreaterThan(20);
  });

  it('stores what the full rules store, with or without the shortcut', async () => {
    await installed(db());
    /** Binds actor and context, starts the audit transaction, then reads its row. */
    const bind = async (a: unknown, c: unknown) => {
      const [started] = await db().sql<{ id: string }>(
        `select (select threadline.current_transaction_id() where b.a is not null)::text as id
           from (select set_config('threadline.actor_ref', $1, true) as a, set_config('threadline.context', $2, true) as c offset 0) b`,
        [JSON.stringify(a), JSON.stringify(c)],
      );
      const [row] = await db().sql<{ actor: unknown; ids: unknown; meta: unknown }>(
        `select t.actor_ref as actor, jsonb_build_array(t.correlation_id, t.request_id, t.job_id, t.causation_id, t.source) as ids, t.meta
           from threadline.audit_transactions t where t.id = $1::bigint`,
        [started!.id],
      );
      return row;
    };
    // Clean (shortcut) and the same values with an unknown key added (full rules): same ids.
    const fast = await bind(
      { type: 'user', id: 'u-1' },
      { correlationId: 'c-1', source: 's', meta: { m: 1 } },
    );
    const slow = await bind(
      { type: 'user', id: 'u-1' },
      { correlationId: 'c-1', source: 's', meta: { m: 1 }, x: 1 },
    );
    expect(fast!.actor).toEqual(slow!.actor);
    expect(fast!.ids).toEqual(slow!.ids);
    expect(fast!.meta).toEqual({ m: 1 });
    // Values the rules change or refuse go the long way.
    const trimmed = await bind({ type: 'user', id: ' u-1 ' }, { correlationId: 42, requestId: ' ' });
    expect(trimmed!.actor).toEqual({ type: 'user', id: 'u-1' });
    expect(trimmed!.ids).toEqual(['42', null, null, null, null]);
    expect(trimmed!.meta).toEqual({
      threadline_context_error: {
        requestId:
          'must be a non-empty string of at most 256 bytes (spaces at either end are trimmed) with no control, format or invisible character and no space other than U+0020',
      },
    });
  });
});
