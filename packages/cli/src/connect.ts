import { ThreadlineError } from '@threadline/core';
import type pg from 'pg';
import type { DatabaseTarget } from './database-url.js';

const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A small pool on the target database, checked with one round trip so that an unreachable
 * server, a bad password or a missing database fail here with CONNECTION_FAILED (exit 2).
 */
export async function connect(target: DatabaseTarget): Promise<pg.Pool> {
  // Loaded on first use: commands that need no database start faster.
  const { Pool } = (await import('pg')).default;
  const pool = new Pool({
    connectionString: target.url,
    max: 2,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: 'threadline-cli',
  });
  pool.on('error', () => undefined);
  try {
    await pool.query('SELECT 1');
    return pool;
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new ThreadlineError(
      'CONNECTION_FAILED',
      `could not connect to PostgreSQL at ${target.label} (from ${target.source}): ${explain(error)}`,
      { cause: error },
    );
  }
}

function explain(error: unknown): string {
  const e = error as { code?: string; message?: string };
  const message = (e.message ?? String(error)).replace(/\.$/, '');
  switch (e.code) {
    case 'ECONNREFUSED':
      return `${message}. Is PostgreSQL running, and are the host and port in the URL right?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${message}. The host name in the URL does not resolve.`;
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
      return `${message}. The server did not answer; check the host, port and firewall.`;
    case '28P01':
    case '28000':
      return `${message}. Check the user and password in the URL.`;
    case '3D000':
      return `${message}. Create the database or fix its name in the URL.`;
    default:
      if (/timeout/i.test(message))
        return `no answer within ${CONNECT_TIMEOUT_MS / 1000} s. Check the host, port and firewall.`;
      return message;
  }
}
