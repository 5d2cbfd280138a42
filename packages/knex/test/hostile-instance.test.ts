import { createThreadline, type Threadline } from '@threadline/core';
import { HOSTILE_OBJECTS, outcome } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { attachThreadline, threadlineSession } from '../src/index.js';
import { VERSIONS } from './setup.js';

// attachThreadline and threadlineSession given something that is not a knex instance or a knex
// transaction: a ThreadlineError CONFIG_INVALID naming what was expected, never a raw TypeError
// (or a trap's own error), and nothing patched on a client it refused.

// Never connects: attaching and refusing need no database.
const URL = 'postgres://postgres@127.0.0.1:5432/postgres';
const pool = new pg.Pool({ connectionString: URL, max: 1 });
const tl: Threadline = createThreadline({ db: pool });
afterAll(() => pool.end());

const boom = () => {
  throw new Error('boom');
};
const fn = () => undefined;
const EXPECTED_KNEX =
  /^CONFIG_INVALID: attachThreadline\(knex, \{ threadline \}\): knex must be a knex instance with client: 'pg'/;
const client = (extra: Record<string, unknown> = {}) => ({
  dialect: 'postgresql',
  transaction: fn,
  query: fn,
  stream: fn,
  releaseConnection: fn,
  ...extra,
});

/** Stand-ins for a knex instance: each is refused. */
const HOSTILE_KNEX: [string, () => unknown][] = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['a number', () => 42],
  ['an empty object', () => ({})],
  ['a function without a client', () => fn],
  ['a proxy that throws on every access', () => new Proxy({}, { get: boom, has: boom, ownKeys: boom })],
  [
    'a revoked proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable(fn, {});
      revoke();
      return proxy;
    },
  ],
  ['a client getter that throws', () => Object.defineProperty({}, 'client', { get: boom })],
  ['a client that is a proxy throwing on access', () => ({ client: new Proxy({}, { get: boom }) })],
  ['a mysql client', () => ({ client: client({ dialect: 'mysql' }) })],
  ['client methods that are not functions', () => ({ client: client({ query: 5, stream: null }) })],
  ['a client without releaseConnection', () => ({ client: client({ releaseConnection: undefined }) })],
  ['a frozen object', () => Object.freeze({ client: Object.freeze(client()) })],
  ['a non-extensible client', () => ({ client: Object.preventExtensions(client()) })],
  [
    'a client whose query cannot be replaced',
    () => ({ client: Object.defineProperty(client(), 'query', { value: fn, writable: false }) }),
  ],
];

describe('attachThreadline with a hostile knex instance', () => {
  it.each(HOSTILE_KNEX)('refuses %s with CONFIG_INVALID naming a knex instance', async (_kind, make) => {
    expect(await outcome(() => attachThreadline(make() as never, { threadline: tl }))).toMatch(EXPECTED_KNEX);
  });

  it.each(HOSTILE_OBJECTS)('refuses %s as the threadline option', async (_kind, make) => {
    expect(
      await outcome(() =>
        attachThreadline({ client: client() } as never, { threadline: make('runInSession') as never }),
      ),
    ).toMatch(/^CONFIG_INVALID: attachThreadline/);
  });

  it('refuses an object whose methods are not functions as the threadline option', async () => {
    expect(
      await outcome(() =>
        attachThreadline({ client: client() } as never, {
          threadline: { runInSession: fn, runOrmStatement: 'x' } as never,
        }),
      ),
    ).toMatch(
      /^CONFIG_INVALID: .*threadline must be the instance from createThreadline\(\{ db \}\) \(threadline.runOrmStatement is a string/,
    );
  });

  describe.each(VERSIONS)('%s', (_name, factory) => {
    it('refuses a knex instance whose client is sealed, and patches nothing', async () => {
      const k = factory({ client: 'pg', connection: URL });
      try {
        const query = k.client.query;
        // Sealed, not frozen, so that destroy() can still clear its pool.
        Object.seal(k.client);
        expect(await outcome(() => attachThreadline(k, { threadline: tl }))).toMatch(
          /knex must be a knex instance .*\(knex.client is frozen or its transaction cannot be replaced\)/,
        );
        expect(k.client.query).toBe(query);
      } finally {
        await k.destroy();
      }
    });

    it.each(['transaction', 'query', 'stream', 'releaseConnection', 'attached mark'])(
      'refuses a client that will not take its %s, puts back what it replaced and can be asked again',
      async (refused) => {
        const k = factory({ client: 'pg', connection: URL });
        try {
          const real = k.client;
          const key = refused === 'attached mark' ? Symbol.for('threadline.knex.attached') : refused;
          const proxy = new Proxy(real, {
            set: (target, name, value) => (name === key ? false : Reflect.set(target, name, value)),
          });
          const hostile = new Proxy(k, {
            get: (target, name) => (name === 'client' ? proxy : Reflect.get(target, name)),
          });
          for (let round = 0; round < 2; round++) {
            expect(await outcome(() => attachThreadline(hostile as never, { threadline: tl }))).toMatch(
              /knex must be a knex instance .* cannot be replaced\)$/,
            );
            for (const method of ['transaction', 'query', 'stream', 'releaseConnection'])
              expect(Object.hasOwn(real, method), method).toBe(false);
            expect(Object.getOwnPropertySymbols(real)).not.toContain(Symbol.for('threadline.knex.attached'));
          }
        } finally {
          await k.destroy();
        }
      },
    );

    it('refuses a client whose set trap answers true but keeps nothing (not attached, not marked)', async () => {
      const k = factory({ client: 'pg', connection: URL });
      try {
        const proxy = new Proxy(k.client, { set: () => true });
        const hostile = new Proxy(k, {
          get: (target, name) => (name === 'client' ? proxy : Reflect.get(target, name)),
        });
        for (let round = 0; round < 2; round++)
          expect(await outcome(() => attachThreadline(hostile as never, { threadline: tl }))).toMatch(
            /\(transaction cannot be replaced\)$/,
          );
      } finally {
        await k.destroy();
      }
    });

    it('attaches a real knex instance, frozen or not (only its client is patched)', async () => {
      const k = factory({ client: 'pg', connection: URL });
      const frozen = factory({ client: 'pg', connection: URL });
      try {
        expect(attachThreadline(k, { threadline: tl })).toBe(k);
        Object.freeze(frozen);
        expect(attachThreadline(frozen, { threadline: tl })).toBe(frozen);
      } finally {
        await Promise.all([k.destroy(), frozen.destroy()]);
      }
    });

    it('threadlineSession refuses what is not a knex transaction', async () => {
      const k = factory({ client: 'pg', connection: URL });
      try {
        for (const bad of [null, undefined, 'trx', {}, new Proxy({}, { get: boom }), { raw: 1 }]) {
          expect(await outcome(() => threadlineSession(bad as never))).toMatch(
            /^CONFIG_INVALID: threadlineSession: pass a knex transaction \(trx\)/,
          );
        }
        expect(await outcome(() => threadlineSession(k as never))).toBe('no error');
      } finally {
        await k.destroy();
      }
    });
  });
});
