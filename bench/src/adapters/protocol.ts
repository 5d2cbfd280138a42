/** What the orchestrator, the server children and the load-generator child tell each other over IPC. */

export const FRAMEWORKS = ['express', 'hono', 'nestjs'] as const;
export type Framework = (typeof FRAMEWORKS)[number];

/** endpoint: POST /orders with a database transaction. middleware: GET /ping, no database. */
export const SCENARIOS = ['endpoint', 'middleware'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/**
 * plain: no Threadline at all (no middleware, tables without triggers). threadline: the adapter's
 * middleware (+ capture and tl.transaction on the endpoint). floor (middleware scenario only): a
 * middleware that runs the request in a bare AsyncLocalStorage holding the header's value, the
 * least any AsyncLocalStorage-based request context costs on this Node version.
 */
const VARIANTS = ['plain', 'floor', 'threadline'] as const;
export type Variant = (typeof VARIANTS)[number];
export const SCENARIO_VARIANTS: Record<Scenario, readonly Variant[]> = {
  endpoint: ['plain', 'threadline'],
  middleware: ['plain', 'floor', 'threadline'],
};

/** The header the Threadline variants name the actor from (`ActorRef.user(value)`). */
export const ACTOR_HEADER = 'x-user-id';

/** Handed to a server child in the TL_BENCH_SERVER environment variable. */
export interface ServerConfig {
  framework: Framework;
  variant: Variant;
  scenario: Scenario;
  /** Bench database URL; only the endpoint scenario opens a pool. */
  dbUrl: string;
  poolSize: number;
}

export interface ServerStats {
  /** Requests answered 2xx since the last `mark`. */
  served: number;
  /** Requests whose handler saw an audit context with an actor (ping) since the last `mark`. */
  withActor: number;
  /** Requests that failed in the handler since the last `mark`. */
  failed: number;
  firstError: string | undefined;
  /** CPU time of the server process since the last `mark`, in µs (user + system). */
  cpuUs: number;
  /** The user-mode part of cpuUs (JavaScript, V8, libuv); the rest is the kernel (socket syscalls). */
  userUs: number;
  /** Wall time since the last `mark`, in ms. */
  wallMs: number;
  rssMb: number;
}

export type ToServer = { type: 'mark' } | { type: 'stats' } | { type: 'stop' };
export type FromServer =
  | { type: 'ready'; port: number }
  | { type: 'stats'; stats: ServerStats }
  | { type: 'error'; message: string };

/** One timed load: `connections` keep-alive connections, each sending its next request when the last answered. */
export interface LoadSpec {
  origin: string;
  method: 'GET' | 'POST';
  path: string;
  actor: string;
  /** 'order': a JSON order body, customers spread over `customers`; 'none': no body. */
  body: 'order' | 'none';
  customers: number;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  /** Responses received (any status). */
  requests: number;
  ok: number;
  non2xx: number;
  errors: number;
  firstError: string | undefined;
  seconds: number;
  rps: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * `run` loads one window and adds its counts and latencies to the lane's totals; `collect` returns
 * a lane's totals (over all its windows) and forgets them.
 */
export type ToLoader =
  | { type: 'run'; id: number; lane: string; spec: LoadSpec }
  | { type: 'collect'; id: number; lane: string }
  | { type: 'stop' };
export type FromLoader =
  | { type: 'ready' }
  | { type: 'done'; id: number; result: LoadResult }
  | { type: 'error'; id: number; message: string };
