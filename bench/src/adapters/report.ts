import { num, range, section, table } from '../print.js';
import { median, type Spread, spread } from '../stats.js';
import type { HttpRun } from './http.js';
import type { AdapterBenchOptions } from './options.js';
import { type Framework, SCENARIO_VARIANTS, type Scenario, type Variant } from './protocol.js';
import {
  COMMIT_MODES,
  type CommitMode,
  LIBRARIES,
  type Library,
  type WriteRun,
  type WriteVariant,
} from './writes.js';

const MIDDLEWARE_TARGET = 0.03;

export interface Target {
  name: string;
  limit: string;
  /** Throughput lost to the middleware, 1 - threadline/plain, per repetition. */
  measured: Spread;
  /** The same for the bare AsyncLocalStorage floor. */
  floor: Spread;
  met: boolean;
}

/** Per-repetition values of f over the runs of one scenario and framework. */
function perRep(
  runs: HttpRun[],
  scenario: Scenario,
  framework: Framework,
  f: (get: (v: Variant) => HttpRun) => number,
): Spread {
  const values: number[] = [];
  for (const rep of [...new Set(runs.map((r) => r.rep))]) {
    const inRep = runs.filter((r) => r.rep === rep && r.scenario === scenario && r.framework === framework);
    if (inRep.length === 0) continue;
    values.push(
      f((v) => {
        const run = inRep.find((r) => r.variant === v);
        if (!run) throw new Error(`no ${v} run for ${scenario} ${framework} in repetition ${rep}`);
        return run;
      }),
    );
  }
  return spread(values);
}

const pct = (s: Spread) => ({ ...s, median: s.median * 100, min: s.min * 100, max: s.max * 100 });

function absoluteTable(runs: HttpRun[], scenario: Scenario, frameworks: Framework[]): string {
  const rows: string[][] = [];
  for (const framework of frameworks) {
    for (const variant of SCENARIO_VARIANTS[scenario]) {
      const of = runs.filter(
        (r) => r.scenario === scenario && r.framework === framework && r.variant === variant,
      );
      if (of.length === 0) continue;
      const m = (pick: (r: HttpRun) => number, digits: number) => num(median(of.map(pick)), digits);
      rows.push([
        framework,
        variant,
        range(spread(of.map((r) => r.load.rps)), 0),
        m((r) => r.load.p50Ms, 2),
        m((r) => r.load.p99Ms, 2),
        m((r) => r.cpuUsPerRequest, 0),
        ...(scenario === 'endpoint' ? [m((r) => r.dbCpuUsPerRequest ?? Number.NaN, 0)] : []),
        m((r) => r.server.rssMb, 0),
      ]);
    }
  }
  const headers = ['framework', 'variant', 'req/s median [min-max]', 'p50 ms', 'p99 ms', 'server CPU µs/req'];
  if (scenario === 'endpoint') headers.push('PostgreSQL CPU µs/req');
  return table([...headers, 'RSS MB'], rows);
}

export function endpointReport(runs: HttpRun[], o: AdapterBenchOptions): string {
  const ep = runs.filter((r) => r.scenario === 'endpoint');
  const rows = o.frameworks
    .filter((fw) => ep.some((r) => r.framework === fw))
    .map((fw) => {
      const f = (fn: (get: (v: Variant) => HttpRun) => number, digits = 2) =>
        range(perRep(ep, 'endpoint', fw, fn), digits);
      return [
        fw,
        f((g) => g('threadline').load.rps / g('plain').load.rps),
        f((g) => g('threadline').cpuUsPerRequest / g('plain').cpuUsPerRequest),
        f((g) => g('threadline').cpuUsPerRequest - g('plain').cpuUsPerRequest, 0),
        f(
          (g) =>
            (g('threadline').dbCpuUsPerRequest ?? Number.NaN) - (g('plain').dbCpuUsPerRequest ?? Number.NaN),
          0,
        ),
        f((g) => g('threadline').load.p50Ms / g('plain').load.p50Ms),
        f((g) => g('threadline').load.p99Ms / g('plain').load.p99Ms),
      ];
    });
  return section(
    `1. Endpoint: POST /orders, ${o.connections} connections, pg Pool of ${o.pool}, ${o.seconds} s per server and repetition`,
    [
      'Parse the JSON body, then one transaction: INSERT the order, UPDATE the customer balance; answer JSON.',
      'plain = no middleware, node-postgres BEGIN/INSERT/UPDATE/COMMIT, tables without triggers.',
      'threadline = the adapter middleware (actor from the x-user-id header), tl.transaction (context bound',
      'with BEGIN), capture triggers on both tables. Ratios: per repetition, then median [min-max];',
      'a throughput ratio below 1 and a CPU ratio above 1 are the cost of Threadline.',
    ].join('\n'),
    absoluteTable(ep, 'endpoint', o.frameworks),
    table(
      [
        'framework',
        'req/s threadline/plain',
        'server CPU/req threadline/plain',
        '+server CPU µs/req',
        '+PostgreSQL CPU µs/req',
        'p50 threadline/plain',
        'p99 threadline/plain',
      ],
      rows,
    ),
  );
}

export function middlewareReport(runs: HttpRun[], o: AdapterBenchOptions, targets: Target[]): string {
  const mw = runs.filter((r) => r.scenario === 'middleware');
  const rows: string[][] = [];
  for (const fw of o.frameworks.filter((f) => mw.some((r) => r.framework === f))) {
    const spreadOf = (fn: (get: (v: Variant) => HttpRun) => number) => perRep(mw, 'middleware', fw, fn);
    const lost = spreadOf((g) => 1 - g('threadline').load.rps / g('plain').load.rps);
    const floorLost = spreadOf((g) => 1 - g('floor').load.rps / g('plain').load.rps);
    const met = lost.median <= MIDDLEWARE_TARGET;
    targets.push({
      name: `${fw}: throughput lost to the middleware`,
      limit: '≤ 3 %',
      measured: lost,
      floor: floorLost,
      met,
    });
    rows.push([
      fw,
      range(spreadOf((g) => g('threadline').load.rps / g('plain').load.rps)),
      range(pct(lost), 1),
      range(pct(floorLost), 1),
      range(
        spreadOf((g) => g('threadline').cpuUsPerRequest - g('plain').cpuUsPerRequest),
        1,
      ),
      range(
        spreadOf((g) => g('floor').cpuUsPerRequest - g('plain').cpuUsPerRequest),
        1,
      ),
      met ? 'met' : 'NOT MET',
    ]);
  }
  return section(
    `2. Middleware alone: GET /ping, no database, ${o.connections} connections, ${o.seconds} s per server and repetition`,
    [
      'The handler answers {"ok":true} and asks for the context actor. plain = no middleware; floor = a middleware',
      'that runs the request in a bare AsyncLocalStorage holding the header (what any AsyncLocalStorage context',
      'costs on this Node); threadline = the adapter middleware: request/correlation ids, remote address, actor',
      'resolved from the x-user-id header, validated context. "lost" = 1 - req/s ratio; target ≤ 3 %.',
    ].join('\n'),
    absoluteTable(mw, 'middleware', o.frameworks),
    table(
      [
        'framework',
        'req/s threadline/plain',
        'lost % threadline',
        'lost % floor',
        '+CPU µs/req threadline',
        '+CPU µs/req floor',
        'target ≤ 3 %',
      ],
      rows,
    ),
  );
}

export function writesReport(runs: WriteRun[], o: AdapterBenchOptions, serverSync: string): string {
  const rows: string[][] = [];
  const spreadOf = (library: Library, mode: CommitMode, f: (get: (v: WriteVariant) => number) => number) => {
    const values: number[] = [];
    for (const rep of [...new Set(runs.map((r) => r.rep))]) {
      const get = (v: WriteVariant) =>
        runs.find((r) => r.rep === rep && r.library === library && r.mode === mode && r.variant === v)!
          .usPerWrite;
      values.push(f(get));
    }
    return spread(values);
  };
  for (const mode of COMMIT_MODES) {
    for (const library of LIBRARIES) {
      const us = (v: WriteVariant) =>
        range(
          spreadOf(library, mode, (get) => get(v)),
          0,
        );
      rows.push([
        library,
        mode === 'server' ? `${serverSync} (server)` : 'off',
        us('none'),
        us('capture'),
        us('attributed'),
        range(spreadOf(library, mode, (g) => g('attributed') / g('none'))),
        range(spreadOf(library, mode, (g) => g('attributed') / g('capture'))),
        range(
          spreadOf(library, mode, (g) => g('attributed') - g('capture')),
          0,
        ),
      ]);
    }
  }
  return section(
    `3. Attributed autocommit writes: one-row INSERT outside a transaction, one connection per lane, ${o.writes} writes per lane and repetition`,
    [
      'none = table without triggers, no context; capture = captured table, no context (captured without an actor);',
      'attributed = captured table inside an audit context through Threadline: tl.query (node-postgres; binding +',
      'INSERT as one implicit transaction in one round trip), an attached knex instance / TypeORM DataSource',
      "(the same: binding + INSERT pipelined in one round trip, through core's runAttributedStatement). µs per write, median [min-max].",
      'synchronous_commit "off" leaves out the WAL flush each commit waits for, which is the same for every lane.',
    ].join('\n'),
    table(
      [
        'library',
        'synchronous_commit',
        'none µs',
        'capture µs',
        'attributed µs',
        'attributed/none',
        'attributed/capture',
        '+µs attribution',
      ],
      rows,
    ),
  );
}

export function targetsReport(targets: Target[]): string {
  if (targets.length === 0) return '';
  return section(
    'Targets',
    'Throughput lost to the middleware alone (1 - threadline/plain req/s), median [min-max] over repetitions.',
    table(
      ['target', 'limit', 'measured %', 'bare AsyncLocalStorage floor %', 'verdict'],
      targets.map((t) => [
        t.name,
        t.limit,
        range(pct(t.measured), 1),
        range(pct(t.floor), 1),
        t.met ? 'met' : 'NOT MET',
      ]),
    ),
  );
}
