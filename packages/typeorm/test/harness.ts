import type { OrmTransaction, TransactionAdapterHarness } from '@threadline/conformance';
import type * as TypeOrm from 'typeorm';
import type { EntityManager } from 'typeorm';
import { attachThreadline } from '../src/index.js';

/** The transaction-adapter conformance harness for one TypeORM version. */
export function typeormHarness(name: string, orm: typeof TypeOrm): TransactionAdapterHarness {
  return {
    name,
    async open({ url, poolSize, tl, acquireTimeoutMillis }) {
      const extra = acquireTimeoutMillis ? { connectionTimeoutMillis: acquireTimeoutMillis } : {};
      const ds = attachThreadline(new orm.DataSource({ type: 'postgres', url, poolSize, extra }), {
        threadline: tl,
      });
      await ds.initialize();
      const wrap = (m: EntityManager): OrmTransaction => ({
        exec: (sql, params) => m.query(sql, params),
        nested: (fn) => m.transaction((inner) => fn(wrap(inner))),
      });
      return {
        transaction: (fn) => ds.transaction((m) => fn(wrap(m))),
        serializable: (fn) => ds.transaction('SERIALIZABLE', (m) => fn(wrap(m))),
        autocommit: async (sql, params) => {
          await ds.query(sql, params);
        },
        sharedConnection: async () => {
          const runner = ds.createQueryRunner();
          return { exec: (sql, params) => runner.query(sql, params), release: () => runner.release() };
        },
        stream: async (sql, params) => {
          const runner = ds.createQueryRunner();
          try {
            const rows: unknown[] = [];
            for await (const row of await runner.stream(sql, params)) rows.push(row);
            return rows;
          } finally {
            await runner.release();
          }
        },
        close: () => ds.destroy(),
      };
    },
  };
}
