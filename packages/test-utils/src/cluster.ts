import { execFile, execFileSync } from 'node:child_process';
import { appendFileSync, chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where initdb, pg_ctl, pg_dump and friends are (TL_PG_BIN to override). */
export const PG_BIN = process.env.TL_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface ThrowawayCluster {
  readonly port: number;
  readonly dir: string;
  /** A connection URL for `database` (default `postgres`) as the `postgres` superuser. */
  url(database?: string): string;
  /**
   * Stop the server as a crash would (`pg_ctl -m immediate`: every backend killed, crash recovery
   * at the next start), stay down `downMillis`, start it again. Async: clients keep running.
   */
  restart(downMillis?: number): Promise<void>;
  /** Stop the server (immediate) and delete its directory. Safe to call twice. */
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function pgCommand(tool: string, args: string[]): [string, string[]] {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  return asRoot
    ? ['runuser', ['-u', 'postgres', '--', join(PG_BIN, tool), ...args]]
    : [join(PG_BIN, tool), args];
}

/** Run a PostgreSQL binary; as root it runs as the `postgres` OS user (initdb refuses root). */
export function pgBin(tool: string, args: string[]): string {
  const [cmd, argv] = pgCommand(tool, args);
  return execFileSync(cmd, argv, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** pgBin without blocking the event loop. */
function pgBinAsync(tool: string, args: string[]): Promise<void> {
  const [cmd, argv] = pgCommand(tool, args);
  return new Promise((resolve, reject) =>
    execFile(cmd, argv, (error, _stdout, stderr) =>
      error ? reject(new Error(`${tool} failed: ${stderr || error.message}`)) : resolve(),
    ),
  );
}

/**
 * A PostgreSQL cluster of its own, in a temp directory on a free port, for tests that must
 * restart a server, change its settings (e.g. wal_level = logical) or replicate. Never touches
 * the shared server. `settings` are appended to postgresql.conf. Always call stop().
 */
/**
 * A temp directory (`tl-<prefix>-…`, open to the postgres OS user) for a server's data directory
 * and socket, a free port, and stop(): the server stopped as a crash would and the directory
 * removed, safe to call twice and before the server ever started.
 */
export async function serverPlace(
  prefix: string,
): Promise<{ dir: string; data: string; port: number; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), `tl-${prefix}-`));
  chmodSync(dir, 0o777);
  const data = join(dir, 'data');
  const port = await freePort();
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      pgBin('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  return { dir, data, port, stop };
}

export async function startThrowawayCluster(
  settings: Record<string, string> = {},
): Promise<ThrowawayCluster> {
  const { dir, data, port, stop } = await serverPlace('cluster');
  try {
    pgBin('initdb', [
      '-D',
      data,
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
      '-E',
      'UTF8',
      '--locale',
      'C',
    ]);
    const conf = {
      port: String(port),
      listen_addresses: "'127.0.0.1'",
      unix_socket_directories: `'${dir}'`,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...settings,
    };
    appendFileSync(
      join(data, 'postgresql.conf'),
      `\n${Object.entries(conf)
        .map(([k, v]) => `${k} = ${v}`)
        .join('\n')}\n`,
    );
    appendFileSync(join(data, 'pg_hba.conf'), '\nhost replication all 127.0.0.1/32 trust\n');
    pgBin('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
  } catch (error) {
    stop();
    throw error;
  }
  return {
    port,
    dir,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async restart(downMillis = 0) {
      await pgBinAsync('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
      await new Promise((r) => setTimeout(r, downMillis));
      await pgBinAsync('pg_ctl', ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', 'start']);
    },
    stop,
  };
}
