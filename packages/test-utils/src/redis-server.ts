import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REQUIRE_SERVICES } from './env.js';

export interface ThrowawayRedis {
  readonly host: string;
  readonly port: number;
  /**
   * Kill the server as a crash would (SIGKILL), stay down `downMillis`, start it again on the
   * same port and directory. With `persistent` it reloads its append-only file: every write it
   * acknowledged survives (appendfsync always).
   */
  restart(downMillis?: number): Promise<void>;
  stop(): Promise<void>;
}

const BINARY = process.env.TL_REDIS_SERVER ?? 'redis-server';

export function redisServerInstalled(): boolean {
  return spawnSync(BINARY, ['--version'], { encoding: 'utf8' }).status === 0;
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

function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (chunk) => done(chunk.toString().startsWith('+PONG')));
  });
}

/**
 * A redis-server of its own on a free port in a temp directory, for tests that restart Redis.
 * `persistent`: append-only file with fsync on every write (what a BullMQ deployment that must
 * not lose jobs runs); otherwise no persistence at all. Null when redis-server is not installed
 * (an error under CI=true). Always call stop().
 */
export async function startThrowawayRedis(
  options: { persistent?: boolean } = {},
): Promise<ThrowawayRedis | null> {
  if (!redisServerInstalled()) {
    if (REQUIRE_SERVICES)
      throw new Error('CI=true but redis-server is not installed (apt-get install -y redis-server)');
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'tl-redis-'));
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--save',
    '',
    ...(options.persistent ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']),
  ];
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(BINARY, args, { stdio: 'ignore' });
    const deadline = Date.now() + 10_000;
    while (!(await pong(port))) {
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const kill = async (signal: NodeJS.Signals) => {
    const c = child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill(signal);
    await exited;
  };
  try {
    await start();
  } catch (error) {
    await kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    host: '127.0.0.1',
    port,
    async restart(downMillis = 0) {
      await kill('SIGKILL');
      await new Promise((r) => setTimeout(r, downMillis));
      await start();
    },
    async stop() {
      await kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
