/**
 * The HTTP runs. Per repetition, the (scenario, framework) groups run in shuffled order. A group
 * starts one server process per variant (plain, [floor,] threadline), loads each for --warmup
 * seconds (actor "warmup"), resets their counters and CPU clocks, then loads them in turns, one
 * window of --window seconds at a time in shuffled order, until each has had --seconds; so a
 * slow phase of the machine hits every variant of the group alike. Each variant's measured load
 * carries an actor unique to the run, so its audit rows can be counted. Then the servers stop
 * and the run's counts and audit rows are checked.
 */
import { join } from 'node:path';
import { ActorRef } from '@threadline/core';
import { type BenchDb, log } from '../db.js';
import { prng, shuffle } from '../stats.js';
import { type LoaderProcess, ServerProcess } from './children.js';
import { backendCpu, backendCpuSince } from './dbcpu.js';
import type { AdapterBenchOptions } from './options.js';
import {
  type Framework,
  type LoadResult,
  type LoadSpec,
  SCENARIO_VARIANTS,
  SCENARIOS,
  type Scenario,
  type ServerStats,
  type Variant,
} from './protocol.js';
import { CUSTOMERS, SHOP_SCHEMA } from './shop.js';

interface AuditOfRun {
  /** audit_transactions carrying the run's actor, with a request id and the framework's source. */
  transactions: number;
  inserts: number;
  updates: number;
}

export interface HttpRun {
  rep: number;
  scenario: Scenario;
  framework: Framework;
  variant: Variant;
  actor: string;
  warm: LoadResult | undefined;
  load: LoadResult;
  server: ServerStats;
  /** Server process CPU (user + system) per answered request, µs. */
  cpuUsPerRequest: number;
  /** Its user-mode part, µs. */
  userUsPerRequest: number;
  /** CPU of the PostgreSQL backends of the server's pool per answered request, µs (endpoint only, local server). */
  dbCpuUsPerRequest: number | undefined;
  audit: AuditOfRun | undefined;
}

class HttpVerificationError extends Error {}

export async function runHttp(
  db: BenchDb,
  o: AdapterBenchOptions,
  loader: LoaderProcess,
): Promise<{ runs: HttpRun[]; verified: string[] }> {
  const groups = SCENARIOS.filter((s) => o.only.has(s)).flatMap((scenario) =>
    o.frameworks.map((framework) => ({ scenario, framework })),
  );
  const random = prng(o.seed);
  const runs: HttpRun[] = [];
  let done = 0;
  for (let rep = 1; rep <= o.reps; rep++) {
    for (const { scenario, framework } of shuffle(groups, random)) {
      const group = await runGroup(db, o, loader, random, rep, scenario, framework);
      runs.push(...group);
      done++;
      log(
        `[${done}/${groups.length * o.reps}] rep ${rep} ${scenario} ${framework}: ` +
          group
            .map(
              (r) =>
                `${r.variant} ${r.load.rps.toFixed(0)} req/s (p50 ${r.load.p50Ms.toFixed(2)} ms, ` +
                `${r.cpuUsPerRequest.toFixed(0)} µs CPU/req)`,
            )
            .join(', '),
      );
    }
  }
  return { runs, verified: await verifyHttp(db, runs) };
}

async function runGroup(
  db: BenchDb,
  o: AdapterBenchOptions,
  loader: LoaderProcess,
  random: () => number,
  rep: number,
  scenario: Scenario,
  framework: Framework,
): Promise<HttpRun[]> {
  const variants = SCENARIO_VARIANTS[scenario];
  const servers = new Map<Variant, ServerProcess>();
  try {
    // Started together (each server is its own process); a failed start stops the others.
    const started = await Promise.allSettled(
      variants.map((variant) =>
        ServerProcess.start(
          { framework, variant, scenario, dbUrl: db.url, poolSize: o.pool },
          o.profile
            ? [
                '--cpu-prof',
                `--cpu-prof-dir=${join(o.profile, `${scenario}-${framework}-${variant}-r${rep}`)}`,
              ]
            : [],
        ),
      ),
    );
    for (const [i, result] of started.entries()) {
      if (result.status === 'fulfilled') servers.set(variants[i]!, result.value);
    }
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const spec = (variant: Variant): Omit<LoadSpec, 'actor' | 'seconds'> => ({
      origin: `http://127.0.0.1:${servers.get(variant)!.port}`,
      method: scenario === 'endpoint' ? 'POST' : 'GET',
      path: scenario === 'endpoint' ? '/orders' : '/ping',
      body: scenario === 'endpoint' ? 'order' : 'none',
      customers: CUSTOMERS,
      connections: o.connections,
    });
    const actorOf = (variant: Variant) => `${scenario}-${framework}-${variant}-r${rep}`;
    const warm = new Map<Variant, LoadResult>();
    if (o.warmup > 0) {
      for (const variant of shuffle(variants, random)) {
        await loader.run(`warm-${variant}`, { ...spec(variant), actor: 'warmup', seconds: o.warmup });
        warm.set(variant, await loader.collect(`warm-${variant}`));
      }
    }
    const appName = (variant: Variant) => `tl-bench-${framework}-${variant}`;
    const dbBefore = new Map<Variant, Map<number, number> | undefined>();
    for (const variant of variants) {
      if (scenario === 'endpoint') dbBefore.set(variant, await backendCpu(db, appName(variant)));
      await servers.get(variant)!.mark();
    }
    const windows = Math.max(1, Math.round(o.seconds / o.window));
    for (let w = 0; w < windows; w++) {
      for (const variant of shuffle(variants, random)) {
        await loader.run(actorOf(variant), {
          ...spec(variant),
          actor: actorOf(variant),
          seconds: o.seconds / windows,
        });
      }
    }
    const runs: HttpRun[] = [];
    for (const variant of variants) {
      const load = await loader.collect(actorOf(variant));
      const stats = await servers.get(variant)!.stats();
      const dbUs =
        scenario === 'endpoint'
          ? backendCpuSince(dbBefore.get(variant), await backendCpu(db, appName(variant)))
          : undefined;
      const run: HttpRun = {
        rep,
        scenario,
        framework,
        variant,
        actor: actorOf(variant),
        warm: warm.get(variant),
        load,
        server: stats,
        cpuUsPerRequest: stats.served > 0 ? stats.cpuUs / stats.served : Number.NaN,
        userUsPerRequest: stats.served > 0 ? stats.userUs / stats.served : Number.NaN,
        dbCpuUsPerRequest: dbUs !== undefined && stats.served > 0 ? dbUs / stats.served : undefined,
        audit: undefined,
      };
      checkRun(run);
      if (scenario === 'endpoint' && variant === 'threadline') run.audit = await auditOf(db, run);
      runs.push(run);
    }
    return runs;
  } finally {
    for (const server of servers.values()) await server.stop();
  }
}

function describeRun(r: HttpRun): string {
  return `${r.scenario} ${r.framework} ${r.variant} (repetition ${r.rep})`;
}

/** Every request answered 2xx, the server counted exactly those, and (ping) saw the context's actor. */
function checkRun(r: HttpRun): void {
  const problems: string[] = [];
  if (r.load.errors > 0 || r.load.non2xx > 0)
    problems.push(`${r.load.errors} failed and ${r.load.non2xx} non-2xx requests (${r.load.firstError})`);
  if (r.server.failed > 0) problems.push(`${r.server.failed} handler failures: ${r.server.firstError}`);
  if (r.server.served !== r.load.ok)
    problems.push(`the server counted ${r.server.served} requests, the load generator ${r.load.ok}`);
  if (r.load.ok === 0) problems.push('no request was answered');
  if (r.scenario === 'middleware') {
    const wanted = r.variant === 'plain' ? 0 : r.server.served;
    if (r.server.withActor !== wanted)
      problems.push(
        `${r.server.withActor} handlers saw the header's actor in the context, expected ${wanted}`,
      );
  }
  if (problems.length > 0) throw new HttpVerificationError(`${describeRun(r)}: ${problems.join('; ')}`);
}

/** The run's audit rows: one transaction per served request with its actor, an INSERT and an UPDATE each. */
async function auditOf(db: BenchDb, r: HttpRun): Promise<AuditOfRun> {
  const { rows } = await db.sql.query(
    `SELECT count(DISTINCT t.id) AS transactions,
            count(*) FILTER (WHERE c.table_name = 'orders' AND c.op = 'insert') AS inserts,
            count(*) FILTER (WHERE c.table_name = 'balances' AND c.op = 'update') AS updates,
            count(*) AS changes
       FROM threadline.audit_transactions t
       JOIN threadline.audit_changes c ON c.transaction_id = t.id
      WHERE t.actor_ref = $1::jsonb AND t.request_id IS NOT NULL AND t.source = $2 AND c.table_schema = $3`,
    [ActorRef.toJSON(ActorRef.user(r.actor)), r.framework, SHOP_SCHEMA.threadline],
  );
  const row = rows[0] as Record<string, string>;
  const audit = {
    transactions: Number(row.transactions),
    inserts: Number(row.inserts),
    updates: Number(row.updates),
  };
  const served = r.server.served;
  if (
    audit.transactions !== served ||
    audit.inserts !== served ||
    audit.updates !== served ||
    Number(row.changes) !== 2 * served
  ) {
    throw new HttpVerificationError(
      `${describeRun(r)}: ${served} requests served, but ${audit.transactions} audit transactions with the ` +
        `request's actor, ${audit.inserts} order inserts and ${audit.updates} balance updates captured (${row.changes} changes)`,
    );
  }
  return audit;
}

/** Over all runs: the audited tables hold exactly what was served, nothing unattributed, the plain tables no audit. */
async function verifyHttp(db: BenchDb, runs: HttpRun[]): Promise<string[]> {
  const lines: string[] = [];
  const endpoint = runs.filter((r) => r.scenario === 'endpoint');
  if (endpoint.length > 0) {
    const answered = (variant: Variant) =>
      endpoint
        .filter((r) => r.variant === variant)
        .reduce((sum, r) => sum + r.load.ok + (r.warm?.ok ?? 0), 0);
    const { rows } = await db.sql.query(
      `SELECT (SELECT count(*) FROM ${SHOP_SCHEMA.plain}.orders) AS plain_orders,
              (SELECT count(*) FROM ${SHOP_SCHEMA.threadline}.orders) AS tl_orders,
              (SELECT count(*) FROM threadline.audit_changes WHERE table_schema = $1) AS plain_changes,
              (SELECT count(*) FROM threadline.audit_changes WHERE table_schema = $2) AS tl_changes,
              (SELECT count(*) FROM threadline.audit_changes c JOIN threadline.audit_transactions t
                  ON t.id = c.transaction_id WHERE c.table_schema = $2 AND t.actor_ref IS NULL) AS unattributed`,
      [SHOP_SCHEMA.plain, SHOP_SCHEMA.threadline],
    );
    const c = rows[0] as Record<string, string>;
    const problems: string[] = [];
    if (Number(c.plain_orders) !== answered('plain'))
      problems.push(`${c.plain_orders} plain orders for ${answered('plain')} answered requests`);
    if (Number(c.tl_orders) !== answered('threadline'))
      problems.push(`${c.tl_orders} Threadline orders for ${answered('threadline')} answered requests`);
    if (Number(c.plain_changes) !== 0) problems.push(`${c.plain_changes} audit changes on the plain tables`);
    if (Number(c.tl_changes) !== 2 * Number(c.tl_orders))
      problems.push(`${c.tl_changes} audit changes for ${c.tl_orders} Threadline orders`);
    if (Number(c.unattributed) !== 0) problems.push(`${c.unattributed} audit changes without an actor`);
    if (problems.length > 0) throw new HttpVerificationError(`endpoint totals: ${problems.join('; ')}`);
    const measured = endpoint.filter((r) => r.variant === 'threadline');
    const served = measured.reduce((sum, r) => sum + r.server.served, 0);
    const tx = measured.reduce((sum, r) => sum + (r.audit?.transactions ?? 0), 0);
    lines.push(
      `endpoint: ${served.toLocaleString('en-US')} measured Threadline requests served, ` +
        `${tx.toLocaleString('en-US')} audit transactions carry the request's actor (from the header), request id and source, ` +
        `each with its order INSERT and balance UPDATE (checked per run); over all ${Number(c.tl_orders).toLocaleString('en-US')} ` +
        `Threadline orders (warm-up included) ${Number(c.tl_changes).toLocaleString('en-US')} changes, none without an actor; ` +
        `the plain tables have no audit rows`,
    );
  }
  const middleware = runs.filter((r) => r.scenario === 'middleware');
  if (middleware.length > 0) {
    const of = (variant: Variant) => middleware.filter((r) => r.variant === variant);
    const sum = (list: HttpRun[], pick: (r: HttpRun) => number) => list.reduce((s, r) => s + pick(r), 0);
    const tl = of('threadline');
    lines.push(
      `middleware: ${sum(tl, (r) => r.server.withActor).toLocaleString('en-US')} of ${sum(tl, (r) => r.server.served).toLocaleString('en-US')} ` +
        `Threadline requests saw the header's actor in getAuditContext() (checked per run); plain requests had no context`,
    );
  }
  return lines;
}
