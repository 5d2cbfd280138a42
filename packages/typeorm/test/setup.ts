import { type ConformanceDb, openConformanceDb } from '@threadline/conformance';
import type * as TypeOrm from 'typeorm';
import * as typeorm1 from 'typeorm';
import * as typeorm03 from 'typeorm03';
import { attachThreadline } from '../src/index.js';

/** The TypeORM versions every test runs against (the declared peer range). */
export const VERSIONS: [string, typeof TypeOrm][] = [
  ['typeorm 1.1.1', typeorm1],
  ['typeorm 0.3.31', typeorm03 as unknown as typeof TypeOrm],
];

interface Item {
  id: number;
  note: string | null;
}

interface LoggedStatement {
  sql: string;
  runner: unknown;
}

export interface TypeormSetup {
  db: ConformanceDb;
  table: string;
  ds: TypeOrm.DataSource;
  Item: TypeOrm.EntitySchema<Item>;
  /** Every statement the query runners sent, in order (from TypeORM's logger). */
  log: LoggedStatement[];
  /** The statements logged while `fn` ran, `set_config(...)` shortened to BIND. */
  statements(fn: () => Promise<unknown>): Promise<string[]>;
  close(): Promise<void>;
}

export async function openTypeorm(
  orm: typeof TypeOrm,
  options: { poolSize?: number; attach?: boolean } = {},
): Promise<TypeormSetup> {
  const db = await openConformanceDb(2);
  const table = await db.table();
  const Item = new orm.EntitySchema<Item>({
    name: `Item_${table}`,
    tableName: table,
    columns: { id: { type: Number, primary: true }, note: { type: String, nullable: true } },
  });
  const log: LoggedStatement[] = [];
  const ignore = () => undefined;
  const ds = new orm.DataSource({
    type: 'postgres',
    url: db.server.url,
    poolSize: options.poolSize ?? 2,
    entities: [Item],
    logger: {
      logQuery: (sql: string, _params: unknown, runner: unknown) => void log.push({ sql, runner }),
      logQueryError: ignore,
      logQuerySlow: ignore,
      logSchemaBuild: ignore,
      logMigration: ignore,
      log: ignore,
    },
  });
  if (options.attach !== false) attachThreadline(ds, { threadline: db.tl });
  await ds.initialize();
  return {
    db,
    table,
    ds,
    Item,
    log,
    async statements(fn) {
      const from = log.length;
      await fn();
      return log
        .slice(from)
        .map(({ sql }) => (sql.startsWith("select set_config('threadline.actor_ref'") ? 'BIND' : sql));
    },
    async close() {
      await ds.destroy().catch(() => undefined);
      await db.close();
    },
  };
}
