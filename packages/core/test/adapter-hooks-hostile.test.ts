import { HOSTILE_OBJECTS, outcome } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, expect, it } from 'vitest';
import { createThreadline } from '../src/index.js';

// The Threadline methods adapters call with objects they were given (tl.runInSession,
// tl.runOrmStatement, tl.resolveTargets): anything else than what they expect is a ThreadlineError
// CONFIG_INVALID naming the method, never a TypeError from inside.

// Never connects: every call below is refused before any statement.
const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres', max: 1 });
const tl = createThreadline({ db: pool, tables: { posts: {} } });
afterAll(() => pool.end());

const session = { query: async () => ({ rows: [], rowCount: 0 }), exec: async () => undefined };
const boom = () => {
  throw new Error('boom');
};
const NOT_SESSIONS: [string, unknown][] = [
  ['null', null],
  ['undefined', undefined],
  ['an empty object', {}],
  ['a proxy that throws', new Proxy({}, { get: boom })],
  ['methods that are not functions', { query: 1, exec: 'x' }],
  ['no exec', { query: session.query }],
];

it.each(NOT_SESSIONS)('runInSession refuses %s as the session', async (_kind, value) => {
  expect(await outcome(() => tl.runInSession(value as never, async () => 1))).toMatch(
    /^CONFIG_INVALID: runInSession\(session, fn\): session must be a SqlSession/,
  );
});

it.each(HOSTILE_OBJECTS)('runInSession refuses %s as the session', async (_kind, make) => {
  expect(await outcome(() => tl.runInSession(make('query') as never, async () => 1))).toMatch(
    /^CONFIG_INVALID: runInSession\(session, fn\)/,
  );
});

it('runInSession refuses a callback that is not a function; takes a real session', async () => {
  for (const fn of [null, {}, 'x'])
    expect(await outcome(() => tl.runInSession(session, fn as never))).toBe(
      'CONFIG_INVALID: runInSession(session, fn): fn must be a function',
    );
  expect(await tl.runInSession(session, async () => 'ran')).toBe('ran');
});

it('runOrmStatement refuses a send that is not a function (a rejected promise)', async () => {
  for (const send of [null, {}, new Proxy({}, { get: boom })]) {
    const result = tl.runOrmStatement(send as never);
    await expect(result).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringMatching(/^runOrmStatement\(send\): send must be a function/),
    });
  }
  expect(await tl.runOrmStatement(async () => 'sent')).toBe('sent');
});

it('resolveTargets refuses a list that cannot be read', async () => {
  const throwing = new Proxy(['posts'], { get: boom });
  expect(await outcome(() => tl.resolveTargets(throwing))).toMatch(
    /^CONFIG_INVALID: resolveTargets: tables could not be read \(boom\)/,
  );
  expect(tl.resolveTargets(['posts']).map((t) => t.table.name)).toEqual(['posts']);
});

it('resolveTargets refuses a sparse list, a name that is not a string and an absurdly long list', async () => {
  // biome-ignore lint/suspicious/noSparseArray: the hole is the point
  expect(await outcome(() => tl.resolveTargets([, 'posts'] as never))).toMatch(
    /^CONFIG_INVALID: resolveTargets: tables\[0\] must be a table name like "posts" or "billing.invoices", got undefined/,
  );
  expect(await outcome(() => tl.resolveTargets(['posts', 7] as never))).toMatch(
    /tables\[1\] must be a table name/,
  );
  const huge: string[] = [];
  huge.length = 2 ** 32 - 1;
  expect(await outcome(() => tl.resolveTargets(huge))).toMatch(
    /^CONFIG_INVALID: resolveTargets: tables lists 4294967295 names; at most 10,000 in one call/,
  );
});
