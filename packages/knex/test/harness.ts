import type { OrmTransaction, TransactionAdapterHarness } from '@threadline/conformance';
import type { Knex } from 'knex';
import { connect, type KnexFactory, raw } from './setup.js';

/** The transaction-adapter conformance harness for one knex version. */
export function knexHarness(name: string, factory: KnexFactory): TransactionAdapterHarness {
  return {
    name,
    async open({ url, poolSize, tl, acquireTimeoutMillis }) {
      const knex = connect(factory, url, poolSize, tl, acquireTimeoutMillis);
      const wrap = (trx: Knex.Transaction): OrmTransaction => ({
        exec: (sql, params) => raw(trx, sql, params),
        nested: (fn) => trx.transaction((inner) => fn(wrap(inner))),
      });
      return {
        transaction: (fn) => knex.transaction((trx) => fn(wrap(trx))),
        serializable: (fn) => knex.transaction((trx) => fn(wrap(trx)), { isolationLevel: 'serializable' }),
        autocommit: async (sql, params) => {
          await raw(knex, sql, params);
        },
        sharedConnection: async () => {
          const connection = await knex.client.acquireConnection();
          return {
            // A knex builder runs when awaited: await it inside the caller’s context.
            exec: async (sql, params) => await raw(knex, sql, params).connection(connection),
            release: () => knex.client.releaseConnection(connection),
          };
        },
        stream: async (sql, params) => {
          const rows: unknown[] = [];
          for await (const row of raw(knex, sql, params).stream()) rows.push(row);
          return rows;
        },
        close: () => knex.destroy(),
      };
    },
  };
}
