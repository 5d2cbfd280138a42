import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { pgBin, serverPlace, type ThrowawayCluster } from './cluster.js';

/**
 * A hot-standby streaming replica of a throwaway cluster (startThrowawayCluster, whose default
 * wal_level is replica): `pg_basebackup -R` from it into a temp directory, started on a free
 * port. Read-only; it replays the primary's WAL continuously. Always call stop() (before the
 * primary's).
 */
export async function startStreamingReplica(
  primary: ThrowawayCluster,
): Promise<Omit<ThrowawayCluster, 'restart'>> {
  const { dir, data, port, stop } = await serverPlace('replica');
  try {
    pgBin('pg_basebackup', [
      '-h',
      '127.0.0.1',
      '-p',
      String(primary.port),
      '-U',
      'postgres',
      '-D',
      data,
      '-R',
      '-X',
      'stream',
      '-c',
      'fast',
      '--no-sync',
    ]);
    // The copied postgresql.conf names the primary's port and socket directory: override them.
    appendFileSync(
      join(data, 'postgresql.conf'),
      `\nport = ${port}\nunix_socket_directories = '${dir}'\nhot_standby = on\n`,
    );
    pgBin('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (error) {
    stop();
    throw error;
  }
  return {
    port,
    dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop,
  };
}

/** A node-postgres Pool on `url` (for packages whose tests do not depend on pg themselves). */
export function openPool(url: string, max = 3): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  return pool;
}
