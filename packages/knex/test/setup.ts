import { type ConformanceDb, openConformanceDb } from '@threadline/conformance';
import type { Threadline } from '@threadline/core';
import knex3, { type Knex } from 'knex';
import knex2 from 'knex2';
import { attachThreadline } from '../src/index.js';

export type KnexFactory = (config: Knex.Config) => Knex;

/** The knex versions every test runs against (the declared peer range). */
export const VERSIONS: [string, KnexFactory][] = [
  ['knex 3.3.0', knex3 as KnexFactory],
  ['knex 2.5.1', knex2 as unknown as KnexFactory],
];

/** `$1`-style SQL as a knex.raw call (the conformance suite speaks `$n`). */
export const raw = (k: Knex | Knex.Transaction, sql: string, params: unknown[] = []) =>
  k.raw(sql.replace(/\$\d+/g, '?'), params as Knex.RawBinding[]);

export function connect(
  factory: KnexFactory,
  url: string,
  poolSize: number,
  tl?: Threadline,
  acquireTimeoutMillis?: number,
): Knex {
  const k = factory({
    client: 'pg',
    connection: url,
    pool: { min: 0, max: poolSize },
    ...(acquireTimeoutMillis ? { acquireConnectionTimeout: acquireTimeoutMillis } : {}),
  });
  return tl ? attachThreadline(k, { threadline: tl }) : k;
}

export interface KnexSetup {
  db: ConformanceDb;
  table: string;
  knex: Knex;
  /** The statements knex sent while `fn` ran, `set_config(...)` shortened to BIND. */
  statements(fn: () => Promise<unknown>): Promise<string[]>;
  close(): Promise<void>;
}

export async function openKnex(factory: KnexFactory, poolSize = 2): Promise<KnexSetup> {
  const db = await openConformanceDb(2);
  const table = await db.table();
  const knex = connect(factory, db.server.url, poolSize, db.tl);
  const log: string[] = [];
  knex.on('query', (q: { sql: string }) => {
    log.push(q.sql.startsWith("select set_config('threadline.actor_ref'") ? 'BIND' : q.sql);
  });
  return {
    db,
    table,
    knex,
    async statements(fn) {
      const from = log.length;
      await fn();
      return log.slice(from);
    },
    async close() {
      await knex.destroy().catch(() => undefined);
      await db.close();
    },
  };
}
