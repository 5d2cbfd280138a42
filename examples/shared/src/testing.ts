import { type ChildProcess, spawn } from 'node:child_process';

/** A service started as a child process by startService(). */
export interface Service {
  readonly name: string;
  /** The URL the service printed when it was ready (empty for a worker). */
  readonly url: string;
  /** Its process id (to signal it). */
  readonly pid: number;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

export interface StartOptions {
  name: string;
  /** The package directory to run in. */
  cwd: string;
  /** Arguments to `node`, e.g. ['--import', 'tsx', 'src/api.ts'] or ['dist/main.js']. */
  args: string[];
  env: Record<string, string>;
  /** Printed when the service is ready; its first capture group, if any, is the URL. */
  ready: RegExp;
  timeoutMs?: number;
}

const running = new Set<ChildProcess>();
// A crashed test run must not leave services behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Start a service with `node` and resolve once it printed `ready` (no sleeps: its own log line). */
export function startService(options: StartOptions): Promise<Service> {
  const child = spawn(process.execPath, options.args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let text = '';
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
  };
  const output = () => text;
  return new Promise<Service>((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      void stop();
      reject(new Error(`${options.name} ${why}; its output:\n${text}`));
    };
    const timer = setTimeout(() => fail('did not get ready in time'), options.timeoutMs ?? 90_000);
    let ready = false;
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      const match = ready ? null : options.ready.exec(text);
      if (match) {
        ready = true;
        clearTimeout(timer);
        child.removeListener('exit', onExit);
        resolve({ name: options.name, url: match[1] ?? '', pid: child.pid ?? 0, output, stop });
      }
    };
    const onExit = (code: number | null) => fail(`exited with code ${code} before it was ready`);
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Start several services at once; when one fails, the others are stopped and the error is thrown. */
export async function startServices(list: StartOptions[]): Promise<Service[]> {
  const results = await Promise.allSettled(list.map(startService));
  const started = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((s) => s.stop()));
    throw failed.reason;
  }
  return started;
}

/** Poll `probe` until it returns a value other than undefined (every 100 ms, up to `timeoutMs`). */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Send JSON as a user (x-user-id) with optional extra headers; returns the status and the parsed body. */
export async function callAs<T = Record<string, unknown>>(
  user: string,
  url: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: T }> {
  const res = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json', 'x-user-id': user, ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {} // not JSON: keep the text
  return { status: res.status, body: body as T };
}
