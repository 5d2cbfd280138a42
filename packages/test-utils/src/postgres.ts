import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { PG_URL, REQUIRE_SERVICES, withDatabase } from './env.js';

let available: Promise<boolean> | undefined;

/** True when the real PostgreSQL answers; throws under CI=true when it does not. */
export function postgresAvailable(): Promise<boolean> {
  available ??= (async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('select 1');
      return true;
    } catch (error) {
      if (REQUIRE_SERVICES) {
        throw new Error(`CI=true but PostgreSQL is not reachable at ${PG_URL}: ${(error as Error).message}`);
      }
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
  })();
  return available;
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** A pool on the test database (max 4 unless told otherwise). */
  readonly pool: pg.Pool;
  /** Another pool on the test database (or on `options.connectionString`), ended by drop(). */
  newPool(max?: number, options?: pg.PoolConfig): pg.Pool;
  drop(): Promise<void>;
}

/** A fresh, empty database on the real server, dropped by drop(). */
export async function createTestDatabase(prefix = 'tl_test'): Promise<TestDatabase> {
  const name = `${prefix}_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const url = withDatabase(PG_URL, name);
  const pools: pg.Pool[] = [];
  const newPool = (max = 4, options: pg.PoolConfig = {}) => {
    const p = new pg.Pool({ connectionString: url, max, ...options });
    p.on('error', () => undefined);
    pools.push(p);
    return p;
  };
  const pool = newPool();
  return {
    name,
    url,
    pool,
    newPool,
    async drop() {
      await Promise.all(pools.map((p) => p.end().catch(() => undefined)));
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
