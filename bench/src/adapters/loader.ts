/**
 * The load-generator child process. A `run` message loads one server for one window:
 * `connections` keep-alive HTTP/1.1 connections (one undici Client each, no pipelining) send
 * requests back to back; every request in flight at the deadline is awaited, so the server is
 * idle when the window ends. Counts and per-request latencies (send to end of body) accumulate
 * per lane (one lane per server) until `collect` returns and clears them.
 */
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import type { FromLoader, LoadResult, LoadSpec, ToLoader } from './protocol.js';

const send = (message: FromLoader) => process.send!(message);

/** JSON order bodies, one per customer; request n uses customer (n * 7919) mod customers. */
function orderBodies(customers: number): string[] {
  const skus = ['SKU-1001', 'SKU-2042', 'SKU-3310', 'SKU-4711', 'SKU-5150'];
  return Array.from({ length: customers }, (_, i) =>
    JSON.stringify({
      customerId: i + 1,
      sku: skus[i % skus.length],
      quantity: 1 + (i % 5),
      priceCents: 199 + ((i * 37) % 5000),
      note: i % 3 === 0 ? 'gift wrap, leave at the door' : null,
    }),
  );
}

class Lane {
  ok = 0;
  non2xx = 0;
  errors = 0;
  firstError: string | undefined;
  seconds = 0;
  sent = 0;
  private latencies = new Float64Array(1 << 16);
  private count = 0;

  record(ms: number): void {
    if (this.count === this.latencies.length) {
      const grown = new Float64Array(this.latencies.length * 2);
      grown.set(this.latencies);
      this.latencies = grown;
    }
    this.latencies[this.count++] = ms;
  }

  /** Totals so far; with `percentiles` false (after a window) the latency fields are NaN. */
  result(percentiles = true): LoadResult {
    const sorted = percentiles ? this.latencies.slice(0, this.count).sort() : new Float64Array(0);
    const at = (p: number) =>
      sorted.length === 0
        ? Number.NaN
        : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
    return {
      requests: this.ok + this.non2xx,
      ok: this.ok,
      non2xx: this.non2xx,
      errors: this.errors,
      firstError: this.firstError,
      seconds: this.seconds,
      rps: this.ok / this.seconds,
      p50Ms: at(50),
      p90Ms: at(90),
      p99Ms: at(99),
      maxMs: sorted.length > 0 ? sorted[sorted.length - 1]! : Number.NaN,
    };
  }
}

const lanes = new Map<string, Lane>();
const bodyCache = new Map<number, string[]>();

async function run(lane: Lane, spec: LoadSpec): Promise<void> {
  let bodies: string[] = [];
  if (spec.body === 'order') {
    bodies = bodyCache.get(spec.customers) ?? orderBodies(spec.customers);
    bodyCache.set(spec.customers, bodies);
  }
  const headers: Record<string, string> = { 'x-user-id': spec.actor };
  if (spec.body === 'order') headers['content-type'] = 'application/json';
  const clients = Array.from(
    { length: spec.connections },
    () => new Client(spec.origin, { pipelining: 1, keepAliveTimeout: 60_000 }),
  );
  const t0 = performance.now();
  const deadline = t0 + spec.seconds * 1000;
  const worker = async (client: Client) => {
    while (performance.now() < deadline) {
      const body = spec.body === 'order' ? bodies[(lane.sent++ * 7919) % bodies.length] : undefined;
      const started = performance.now();
      try {
        const res = await client.request({ path: spec.path, method: spec.method, headers, body });
        await res.body.dump();
        lane.record(performance.now() - started);
        if (res.statusCode >= 200 && res.statusCode < 300) lane.ok++;
        else {
          lane.non2xx++;
          lane.firstError ??= `HTTP ${res.statusCode}`;
        }
      } catch (error) {
        lane.errors++;
        lane.firstError ??= String((error as Error)?.message ?? error);
      }
    }
  };
  await Promise.all(clients.map(worker));
  lane.seconds += (performance.now() - t0) / 1000;
  await Promise.all(clients.map((c) => c.close().catch(() => undefined)));
}

process.on('message', (message: ToLoader) => {
  if (message.type === 'stop') process.exit(0);
  const lane = lanes.get(message.lane) ?? new Lane();
  lanes.set(message.lane, lane);
  if (message.type === 'collect') {
    lanes.delete(message.lane);
    send({ type: 'done', id: message.id, result: lane.result() });
    return;
  }
  run(lane, message.spec).then(
    () => send({ type: 'done', id: message.id, result: lane.result(false) }),
    (error: Error) => send({ type: 'error', id: message.id, message: String(error?.stack ?? error) }),
  );
});
send({ type: 'ready' });
