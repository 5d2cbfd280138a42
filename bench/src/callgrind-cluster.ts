/**
 * A throwaway PostgreSQL cluster for counting instructions with callgrind (bench:instructions,
 * bench:bulk-instructions): initdb in a temp dir, its own port and socket, fsync and autovacuum
 * off. Databases are prepared over a normal connection; the cluster is then stopped and each
 * script runs in `postgres --single` under valgrind --tool=callgrind, counting only statement
 * execution and commit (PortalRun and CommitTransactionCommand: parsing and planning of the
 * client statements are the same for every variant, and the statistics flushes between
 * statements depend on wall-clock time, which valgrind and the machine's load stretch).
 * initdb and postgres refuse to run as root: then everything runs as the postgres user.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';

export interface CallgrindCluster {
  /** The directory that keeps the callgrind files. */
  readonly out: string;
  /** A client of `database` (created when missing) on the running cluster. */
  connect(database: string): Promise<pg.Client>;
  /** Stops the cluster after the databases are prepared. */
  stop(): void;
  /** Instructions callgrind counted while `database` ran `script` (one statement a line); the file is `<name>.callgrind`. */
  count(database: string, name: string, script: string): number;
  /** Stops the cluster if it still runs and removes its data directory. */
  remove(): void;
}

export function startCallgrindCluster(opts: { port: number; bin?: string; out?: string }): CallgrindCluster {
  const tool = (name: string) => (opts.bin ? join(opts.bin, name) : name);
  const dir = mkdtempSync(join(tmpdir(), 'tl-instructions-'));
  const out = resolve(opts.out ?? join(dir, 'callgrind'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? Number(execFileSync('id', ['-u', 'postgres']).toString().trim()) : undefined;
  const run = (cmd: string, args: string[], input?: string): string =>
    execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, {
      input,
      maxBuffer: 1 << 28,
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    }).toString();
  mkdirSync(out, { recursive: true });
  if (owner !== undefined) {
    chownSync(dir, owner, owner);
    chownSync(out, owner, owner);
  }
  chmodSync(dir, 0o700);
  run(tool('initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '--no-sync']);
  writeFileSync(
    join(data, 'postgresql.auto.conf'),
    `port = ${opts.port}\nlisten_addresses = ''\nunix_socket_directories = '${dir}'\nfsync = off\nsynchronous_commit = off\nautovacuum = off\njit = off\n`,
  );
  run(tool('pg_ctl'), ['-D', data, '-w', '-l', join(dir, 'log'), 'start']);
  const client = (database: string) =>
    new pg.Client({ host: dir, port: opts.port, user: 'postgres', database });
  return {
    out,
    async connect(database) {
      const admin = client('postgres');
      await admin.connect();
      try {
        const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
        if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
      } finally {
        await admin.end();
      }
      const c = client(database);
      await c.connect();
      return c;
    },
    stop() {
      run(tool('pg_ctl'), ['-D', data, '-w', '-m', 'fast', 'stop']);
    },
    count(database, name, script) {
      const file = join(out, `${name}.callgrind`);
      run(
        'valgrind',
        [
          '--tool=callgrind',
          `--callgrind-out-file=${file}`,
          '--collect-atstart=no',
          '--toggle-collect=PortalRun',
          '--toggle-collect=CommitTransactionCommand',
          tool('postgres'),
          '--single',
          '-D',
          data,
          database,
        ],
        script,
      );
      const totals = /^(?:summary|totals):\s+(\d+)/m.exec(readFileSync(file, 'utf8'));
      if (!totals) throw new Error(`no totals in ${file}`);
      return Number(totals[1]);
    },
    remove() {
      try {
        run(tool('pg_ctl'), ['-D', data, '-m', 'immediate', 'stop']);
      } catch {
        // not running
      }
      rmSync(data, { recursive: true, force: true });
    },
  };
}

/** createThreadline from the build of @threadline/core in `coreDir` (a packages/core directory with dist/). */
export async function coreAt(coreDir: string): Promise<typeof import('@threadline/core')> {
  return (await import(
    pathToFileURL(join(coreDir, 'dist', 'index.js')).href
  )) as typeof import('@threadline/core');
}
