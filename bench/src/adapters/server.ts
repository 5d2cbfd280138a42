/**
 * A server child process: one framework, one variant, one scenario (TL_BENCH_SERVER). It reports
 * its port, then answers the orchestrator's `mark` (reset counters and the CPU clock), `stats`
 * and `stop` messages. The plain variant never loads a Threadline module.
 */
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import type { AppDeps, Counters, RunningApp, StartApp } from './app.js';
import type { FromServer, ServerConfig, ServerStats, ToServer } from './protocol.js';
import { plainPlaceOrder, threadlinePlaceOrder } from './shop.js';

const send = (message: FromServer) => process.send!(message);

async function start(
  cfg: ServerConfig,
): Promise<{ app: RunningApp; pool: pg.Pool | undefined; counters: Counters }> {
  const counters: Counters = { served: 0, withActor: 0, failed: 0, firstError: undefined };
  const pool =
    cfg.scenario === 'endpoint'
      ? new pg.Pool({
          connectionString: cfg.dbUrl,
          max: cfg.poolSize,
          idleTimeoutMillis: 0,
          application_name: `tl-bench-${cfg.framework}-${cfg.variant}`,
        })
      : undefined;
  pool?.on('error', () => undefined);
  const deps: AppDeps = {
    variant: cfg.variant,
    placeOrder: undefined,
    threadline: undefined,
    actorFromHeader: undefined,
    contextActor: () => undefined,
    counters,
  };
  if (cfg.variant === 'threadline') {
    const { ActorRef, createThreadline, getAuditContext } = await import('@threadline/core');
    // The middleware scenario never queries: the pool stays unconnected (Nest's module wants an instance).
    deps.threadline = createThreadline({ db: pool ?? new pg.Pool({ connectionString: cfg.dbUrl, max: 1 }) });
    deps.actorFromHeader = (value) => (value ? ActorRef.user(value) : undefined);
    deps.contextActor = () => getAuditContext()?.actor;
    if (pool) deps.placeOrder = threadlinePlaceOrder(deps.threadline);
  } else if (pool) {
    deps.placeOrder = plainPlaceOrder(pool);
  }
  if (cfg.variant === 'floor') {
    const { floorStorage } = await import('./app.js');
    deps.contextActor = () => floorStorage.getStore()?.actor;
  }
  const starters: Record<ServerConfig['framework'], () => Promise<StartApp>> = {
    express: async () => (await import('./apps/express.js')).startExpress,
    hono: async () => (await import('./apps/hono.js')).startHono,
    nestjs: async () => (await import('./apps/nestjs.js')).startNest,
  };
  const app = await (await starters[cfg.framework]())(deps);
  return { app, pool, counters };
}

const cfg = JSON.parse(process.env.TL_BENCH_SERVER ?? '{}') as ServerConfig;
try {
  const { app, pool, counters } = await start(cfg);
  let cpu = process.cpuUsage();
  let t0 = performance.now();
  process.on('message', (message: ToServer) => {
    if (message.type === 'mark') {
      Object.assign(counters, { served: 0, withActor: 0, failed: 0, firstError: undefined });
      cpu = process.cpuUsage();
      t0 = performance.now();
      send({ type: 'stats', stats: stats() });
    } else if (message.type === 'stats') {
      send({ type: 'stats', stats: stats() });
    } else if (message.type === 'stop') {
      void app
        .close()
        .then(() => pool?.end())
        .finally(() => process.exit(0));
    }
  });
  const stats = (): ServerStats => {
    const used = process.cpuUsage(cpu);
    return {
      ...counters,
      cpuUs: used.user + used.system,
      userUs: used.user,
      wallMs: performance.now() - t0,
      rssMb: process.memoryUsage.rss() / 2 ** 20,
    };
  };
  send({ type: 'ready', port: app.port });
} catch (error) {
  process.send!(
    { type: 'error', message: String((error as Error)?.stack ?? error) } satisfies FromServer,
    () => process.exit(1),
  );
}
