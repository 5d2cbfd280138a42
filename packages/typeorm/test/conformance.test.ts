import {
  describeTransactionAdapterConformance,
  describeTransactionAdapterFaults,
  type OrmTransaction,
  type TransactionAdapterHarness,
} from '@threadline/conformance';
import type { EntityManager } from 'typeorm';
import { attachThreadline } from '../src/index.js';
import { VERSIONS } from './setup.js';

for (const [index, [name, orm]] of VERSIONS.entries()) {
  const harness: TransactionAdapterHarness = {
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
  describeTransactionAdapterConformance(harness);
  // Through PgBouncer and under faults on the current release (the glue is the same on each).
  if (index === 0) {
    describeTransactionAdapterConformance(harness, { pgbouncer: true });
    describeTransactionAdapterFaults(harness);
  }
}
