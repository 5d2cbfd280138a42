/** The server and load-generator child processes (TypeScript run through tsx's loader). */
import { type ChildProcess, fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type {
  FromLoader,
  FromServer,
  LoadResult,
  LoadSpec,
  ServerConfig,
  ServerStats,
  ToLoader,
  ToServer,
} from './protocol.js';

const BENCH_DIR = fileURLToPath(new URL('../../', import.meta.url));
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
/** Every child still running, so that a failed or interrupted run can end exactly these. */
const live = new Set<ChildProcess>();

function forkTs(entry: string, env: Record<string, string>, nodeArgs: string[] = []): ChildProcess {
  const child = fork(fileURLToPath(new URL(entry, import.meta.url)), [], {
    cwd: BENCH_DIR,
    // tsx compiles the decorators of the Nest app as TypeScript's experimentalDecorators (from
    // bench/tsconfig.json); it emits no decorator metadata, so the Nest app injects by token.
    execArgv: ['--import', TSX_LOADER, ...nodeArgs],
    env: { ...process.env, TSX_TSCONFIG_PATH: join(BENCH_DIR, 'tsconfig.json'), ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** End the children this benchmark started and that are still running (by their handles). */
export function killChildren(): void {
  for (const child of live) child.kill('SIGKILL');
}

function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      resolve();
    }, ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** Waits for the next message of `type` from `child`; rejects if the child exits or reports an error first. */
function nextMessage<M extends { type: string }, T extends M['type']>(
  child: ChildProcess,
  type: T,
  what: string,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: M) => {
      if (message.type === type) {
        cleanup();
        resolve(message as Extract<M, { type: T }>);
      } else if (message.type === 'error') {
        cleanup();
        reject(new Error(`${what}: ${(message as unknown as { message: string }).message}`));
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`${what}: the child process exited (${signal ?? code})`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

export class ServerProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly label: string,
  ) {}

  static async start(config: ServerConfig, nodeArgs: string[] = []): Promise<ServerProcess> {
    const label = `${config.framework} ${config.variant} server`;
    const child = forkTs('./server.ts', { TL_BENCH_SERVER: JSON.stringify(config) }, nodeArgs);
    try {
      const ready = await nextMessage<FromServer, 'ready'>(child, 'ready', label);
      return new ServerProcess(child, ready.port, label);
    } catch (error) {
      child.kill('SIGKILL');
      throw error;
    }
  }

  private async ask(message: ToServer): Promise<ServerStats> {
    const reply = nextMessage<FromServer, 'stats'>(this.child, 'stats', this.label);
    this.child.send(message);
    return (await reply).stats;
  }

  /** Reset the request counters and the CPU clock. */
  mark(): Promise<ServerStats> {
    return this.ask({ type: 'mark' });
  }

  stats(): Promise<ServerStats> {
    return this.ask({ type: 'stats' });
  }

  /** Close the server and its pool, and wait for the process to exit (it writes its CPU profile then). */
  async stop(): Promise<void> {
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToServer);
    await exited(this.child, 15_000);
  }
}

export class LoaderProcess {
  private nextId = 1;
  private constructor(private readonly child: ChildProcess) {}

  static async start(): Promise<LoaderProcess> {
    const child = forkTs('./loader.ts', {});
    await nextMessage<FromLoader, 'ready'>(child, 'ready', 'load generator');
    return new LoaderProcess(child);
  }

  /** Load one window; returns the lane's running totals (no latency percentiles). */
  run(lane: string, spec: LoadSpec): Promise<LoadResult> {
    return this.ask({ type: 'run', id: this.nextId++, lane, spec });
  }

  /** The lane's totals over all its windows, latency percentiles included; the lane starts over. */
  collect(lane: string): Promise<LoadResult> {
    return this.ask({ type: 'collect', id: this.nextId++, lane });
  }

  private async ask(message: ToLoader): Promise<LoadResult> {
    const done = nextMessage<FromLoader, 'done'>(this.child, 'done', 'load generator');
    this.child.send(message);
    return (await done).result;
  }

  async stop(): Promise<void> {
    if (this.child.connected) this.child.send({ type: 'stop' } satisfies ToLoader);
    await exited(this.child, 5_000);
  }
}
