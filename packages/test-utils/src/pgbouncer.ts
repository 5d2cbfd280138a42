import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUIRE_SERVICES } from './env.js';

export interface PgBouncer {
  /** A URL for the same database through PgBouncer (transaction pooling). */
  readonly url: string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

function findBinary(): string | null {
  for (const candidate of [
    process.env.TL_PGBOUNCER,
    '/usr/sbin/pgbouncer',
    '/usr/bin/pgbouncer',
    'pgbouncer',
  ]) {
    if (!candidate) continue;
    const r = spawnSync(candidate, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return candidate;
  }
  return null;
}

export function pgbouncerInstalled(): boolean {
  return findBinary() !== null;
}

/**
 * Start a Debian `pgbouncer` in transaction pooling mode in front of `databaseUrl`, with a
 * server pool of `poolSize` connections. Under CI=true a missing binary is an error.
 */
export async function startPgBouncer(databaseUrl: string, poolSize = 4): Promise<PgBouncer | null> {
  const bin = findBinary();
  if (!bin) {
    if (REQUIRE_SERVICES)
      throw new Error(
        'CI=true but pgbouncer is not installed (apt-get install -y pgbouncer; .ci/run does this)',
      );
    return null;
  }
  const target = new URL(databaseUrl);
  const db = target.pathname.slice(1);
  const user = decodeURIComponent(target.username || 'postgres');
  // freePort() closes its probe socket before pgbouncer binds the port, so another process can
  // take it in between: a start whose pgbouncer exits at once (bind failure) retries on a new port.
  let lastError: unknown;
  for (let attempt = 1; attempt <= 5; attempt++) {
    const started = await startOnce(bin, db, user, target, poolSize).catch((error: unknown) => {
      lastError = error;
      return null;
    });
    if (started) return started;
  }
  throw lastError;
}

async function startOnce(
  bin: string,
  db: string,
  user: string,
  target: URL,
  poolSize: number,
): Promise<PgBouncer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tl-pgbouncer-'));
  chmodSync(dir, 0o777);
  const ini = join(dir, 'pgbouncer.ini');
  const users = join(dir, 'userlist.txt');
  writeFileSync(users, `"${user}" ""\n`);
  writeFileSync(
    ini,
    [
      '[databases]',
      `${db} = host=${target.hostname} port=${target.port || 5432} dbname=${db} user=${user}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      'auth_type = trust',
      `auth_file = ${users}`,
      'pool_mode = transaction',
      `default_pool_size = ${poolSize}`,
      'max_client_conn = 500',
      'ignore_startup_parameters = extra_float_digits,options',
      `unix_socket_dir = ${dir}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      '',
    ].join('\n'),
  );
  for (const f of [ini, users]) chmodSync(f, 0o644);
  const args = process.getuid?.() === 0 ? ['-u', 'postgres', ini] : [ini];
  const child: ChildProcess = spawn(bin, args, { stdio: 'ignore' });
  const url = `postgres://${encodeURIComponent(user)}@127.0.0.1:${port}/${db}`;
  const deadline = Date.now() + 10_000;
  const pg = (await import('pg')).default;
  for (;;) {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline || child.exitCode !== null) {
        child.kill('SIGTERM');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`pgbouncer did not start on port ${port}: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
