import type { PGlite } from '@electric-sql/pglite';
import type pg from 'pg';
import { afterAll, beforeAll, describe } from 'vitest';
import { createPglite } from './pglite.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type DbKind = 'postgres' | 'pglite';

export interface DbHandle {
  readonly kind: DbKind;
  /** What to hand to createThreadline: a pg Pool (max 4) or a PGlite instance. */
  readonly db: pg.Pool | PGlite;
  /** Run one statement on the same database and return its rows. */
  sql<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
  /** Run a multi-statement script. */
  exec(text: string): Promise<void>;
  /** The real-server test database (postgres only). */
  readonly server?: TestDatabase;
}

/** True when the real server is usable (global setup decides; under CI=true it must be). */
export function postgresEnabled(): boolean {
  return process.env.TL_PG_AVAILABLE !== '0';
}

/** Open a database of the given kind: a fresh database on the real server, or a fresh PGlite. */
export async function openDb(kind: DbKind): Promise<{ handle: DbHandle; close(): Promise<void> }> {
  if (kind === 'postgres') {
    const server = await createTestDatabase();
    const pool = server.pool;
    return {
      handle: {
        kind,
        db: pool,
        server,
        sql: async (text, params) => (await pool.query(text, params)).rows,
        exec: async (text) => {
          await pool.query(text);
        },
      },
      close: () => server.drop(),
    };
  }
  const lite = await createPglite();
  return {
    handle: {
      kind,
      db: lite,
      sql: async <R>(text: string, params?: unknown[]) => (await lite.query<R>(text, params)).rows,
      exec: async (text) => {
        await lite.exec(text);
      },
    },
    close: () => lite.close(),
  };
}

/**
 * Define `suite` once per database kind: the real PostgreSQL server and embedded PGlite.
 * Each kind gets a fresh database for the whole suite.
 */
export function describeEachDb(
  name: string,
  suite: (db: () => DbHandle) => void,
  kinds: DbKind[] = ['postgres', 'pglite'],
): void {
  for (const kind of kinds) {
    const run = kind === 'pglite' || postgresEnabled() ? describe : describe.skip;
    run(`${name} [${kind}]`, () => {
      let opened: Awaited<ReturnType<typeof openDb>> | undefined;
      beforeAll(async () => {
        opened = await openDb(kind);
      });
      afterAll(async () => {
        await opened?.close();
      });
      suite(() => {
        if (!opened) throw new Error('database not open yet');
        return opened.handle;
      });
    });
  }
}
