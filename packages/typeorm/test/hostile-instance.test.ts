import { createThreadline, type Threadline } from '@threadline/core';
import { HOSTILE_OBJECTS, outcome } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { attachThreadline, threadlineSession } from '../src/index.js';
import { VERSIONS } from './setup.js';

// attachThreadline and threadlineSession given something that is not a DataSource, a QueryRunner
// or an EntityManager: a ThreadlineError CONFIG_INVALID naming what was expected, never a raw
// TypeError (or a trap's own error), and nothing patched on a DataSource it refused.

// Never connects: attaching and refusing need no database.
const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres', max: 1 });
const tl: Threadline = createThreadline({ db: pool });
afterAll(() => pool.end());

const boom = () => {
  throw new Error('boom');
};
const fn = () => undefined;
const EXPECTED_DS =
  /^CONFIG_INVALID: attachThreadline\(dataSource, \{ threadline \}\): dataSource must be a TypeORM DataSource with type: 'postgres'/;

/** Stand-ins for a DataSource: each is refused. */
const HOSTILE_DATA_SOURCES: [string, () => unknown][] = [
  ['null', () => null],
  ['undefined', () => undefined],
  ['a number', () => 42],
  ['a string', () => 'postgres'],
  ['an empty object', () => ({})],
  ['a function', () => fn],
  ['a proxy that throws on every access', () => new Proxy({}, { get: boom, has: boom, ownKeys: boom })],
  [
    'a revoked proxy',
    () => {
      const { proxy, revoke } = Proxy.revocable({}, {});
      revoke();
      return proxy;
    },
  ],
  ['an options getter that throws', () => Object.defineProperty({}, 'options', { get: boom })],
  [
    'a mysql DataSource',
    () => ({ options: { type: 'mysql' }, createQueryRunner: fn, query: fn, manager: { transaction: fn } }),
  ],
  ['no manager', () => ({ options: { type: 'postgres' }, createQueryRunner: fn, query: fn })],
  [
    'methods that are not functions',
    () => ({ options: { type: 'postgres' }, createQueryRunner: 5, query: 'q', manager: { transaction: fn } }),
  ],
  [
    'a manager whose transaction is not a function',
    () => ({
      options: { type: 'postgres' },
      createQueryRunner: fn,
      query: fn,
      manager: { transaction: null },
    }),
  ],
  [
    'a frozen object',
    () =>
      Object.freeze({
        options: { type: 'postgres' },
        createQueryRunner: fn,
        query: fn,
        manager: { transaction: fn },
      }),
  ],
  [
    'a frozen manager',
    () => ({
      options: { type: 'postgres' },
      createQueryRunner: fn,
      query: fn,
      manager: Object.freeze({ transaction: fn }),
    }),
  ],
  [
    'a read-only createQueryRunner',
    () =>
      Object.defineProperty(
        { options: { type: 'postgres' }, query: fn, manager: { transaction: fn } },
        'createQueryRunner',
        { value: fn, writable: false },
      ),
  ],
];

describe('attachThreadline with a hostile DataSource', () => {
  it.each(HOSTILE_DATA_SOURCES)('refuses %s with CONFIG_INVALID naming a DataSource', async (_kind, make) => {
    expect(await outcome(() => attachThreadline(make() as never, { threadline: tl }))).toMatch(EXPECTED_DS);
  });

  it.each(HOSTILE_OBJECTS)('refuses %s as the threadline option', async (_kind, make) => {
    const ds = {
      options: { type: 'postgres' },
      createQueryRunner: fn,
      query: fn,
      manager: { transaction: fn },
    };
    expect(
      await outcome(() => attachThreadline(ds as never, { threadline: make('runInSession') as never })),
    ).toMatch(/^CONFIG_INVALID: attachThreadline/);
  });

  it('refuses an object whose methods are not functions as the threadline option', async () => {
    const ds = {
      options: { type: 'postgres' },
      createQueryRunner: fn,
      query: fn,
      manager: { transaction: fn },
    };
    expect(
      await outcome(() =>
        attachThreadline(ds as never, { threadline: { runInSession: 1, runOrmStatement: 2 } as never }),
      ),
    ).toMatch(
      /^CONFIG_INVALID: .*threadline must be the instance from createThreadline\(\{ db \}\) \(threadline.runInSession is a number/,
    );
  });

  describe.each(VERSIONS)('%s', (_name, orm) => {
    const dataSource = () =>
      new orm.DataSource({ type: 'postgres', url: 'postgres://postgres@127.0.0.1:5432/postgres' });

    it('refuses a frozen DataSource or one with a frozen manager, and patches nothing', async () => {
      const frozen = dataSource();
      Object.freeze(frozen);
      expect(await outcome(() => attachThreadline(frozen, { threadline: tl }))).toMatch(
        /dataSource must be a TypeORM DataSource .*\(the DataSource is frozen/,
      );
      const managerFrozen = dataSource();
      Object.freeze(managerFrozen.manager);
      expect(await outcome(() => attachThreadline(managerFrozen, { threadline: tl }))).toMatch(
        /\(its manager is frozen or its transaction cannot be replaced\)/,
      );
      expect(Object.hasOwn(managerFrozen, 'createQueryRunner')).toBe(false);
      expect(Object.hasOwn(managerFrozen, 'query')).toBe(false);
      // The refusal left it attachable once the manager is fixed (it was not marked attached).
      Object.defineProperty(managerFrozen, 'manager', { value: managerFrozen.createEntityManager() });
      expect(attachThreadline(managerFrozen, { threadline: tl })).toBe(managerFrozen);
    });

    it.each(['createQueryRunner', 'query', 'attached mark', 'manager.transaction'])(
      'refuses a DataSource that will not take its %s, puts back what it replaced and stays attachable',
      async (refused) => {
        const real = dataSource();
        const manager = real.manager;
        const onManager = refused === 'manager.transaction';
        const key =
          refused === 'attached mark'
            ? Symbol.for('threadline.typeorm.attached')
            : onManager
              ? 'transaction'
              : refused;
        const refusing = <T extends object>(target: T) =>
          new Proxy(target, {
            set: (t, name, value) => (name === key ? false : Reflect.set(t, name, value)),
          });
        const proxiedManager = onManager ? refusing(manager) : manager;
        const hostile = new Proxy(onManager ? real : refusing(real), {
          get: (t, name) => (name === 'manager' ? proxiedManager : Reflect.get(t, name)),
        });
        for (let round = 0; round < 2; round++) {
          expect(await outcome(() => attachThreadline(hostile as never, { threadline: tl }))).toMatch(
            /dataSource must be a TypeORM DataSource .* cannot be replaced\)$/,
          );
          expect(Object.hasOwn(real, 'createQueryRunner')).toBe(false);
          expect(Object.hasOwn(real, 'query')).toBe(false);
          expect(Object.hasOwn(manager, 'transaction')).toBe(false);
          expect(Object.getOwnPropertySymbols(real)).not.toContain(Symbol.for('threadline.typeorm.attached'));
        }
        expect(attachThreadline(real, { threadline: tl })).toBe(real);
      },
    );

    it('attaches a real DataSource (the checks refuse no real one)', () => {
      const ds = dataSource();
      expect(attachThreadline(ds, { threadline: tl })).toBe(ds);
      expect(Object.hasOwn(ds, 'createQueryRunner')).toBe(true);
    });

    it('threadlineSession refuses what is not a QueryRunner or EntityManager', async () => {
      for (const bad of [
        null,
        undefined,
        42,
        {},
        new Proxy({}, { has: boom }),
        { connect: fn, query: 'no' },
      ]) {
        expect(await outcome(() => threadlineSession(bad as never))).toMatch(
          /^CONFIG_INVALID: threadlineSession: pass a TypeORM QueryRunner, or the EntityManager given to your transaction callback/,
        );
      }
      // An EntityManager outside a transaction has no query runner: named as such.
      expect(await outcome(() => threadlineSession(dataSource().manager))).toMatch(/has no query runner/);
    });
  });
});
