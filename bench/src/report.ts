import type { BenchOptions } from './options.js';
import { num, range, section, table } from './print.js';
import { FIXTURES, type Fixture } from './schema.js';
import { median, type Spread, spread } from './stats.js';
import { BULK_OPS, BULK_VARIANTS, type BulkRun, type BulkVariant } from './workloads/bulk.js';
import type { ConcurrentRun, ConcurrentVariant } from './workloads/concurrent.js';
import type { HazardCase, HazardRun } from './workloads/hazard.js';
import { SINGLE_OPS, type SingleRun, type SingleVariant } from './workloads/single.js';

export interface Target {
  name: string;
  limit: string;
  measured: Spread;
  met: boolean;
  /** The floor's value for the same quantity on this machine (what no design could beat). */
  floor?: Spread;
  floorLabel?: string;
}

/** Per-repetition values of f(run of variant A, run of variant B), for runs matched by `key`. */
export function perRep<R extends { rep: number }>(
  runs: R[],
  match: (r: R) => boolean,
  variantOf: (r: R) => string,
  f: (get: (variant: string) => R) => number,
): Spread {
  const reps = [...new Set(runs.map((r) => r.rep))];
  const values: number[] = [];
  for (const rep of reps) {
    const inRep = runs.filter((r) => r.rep === rep && match(r));
    const get = (variant: string) => {
      const run = inRep.find((r) => variantOf(r) === variant);
      if (!run) throw new Error(`no ${variant} run in repetition ${rep}`);
      return run;
    };
    values.push(f(get));
  }
  return spread(values);
}

export const medianOf = <R>(runs: R[], pick: (r: R) => number) => median(runs.map(pick));

export function bulkReport(runs: BulkRun[], o: BenchOptions, targets: Target[]): string {
  const blocks: string[] = [];
  for (const fixture of FIXTURES) {
    const mine = runs.filter((r) => r.fixture === fixture);
    if (mine.length === 0) continue;
    const ratio = (op: string, a: BulkVariant, b: BulkVariant) =>
      perRep(
        mine,
        (r) => r.op === op,
        (r) => r.variant,
        (get) => get(a).ms / get(b).ms,
      );
    const extraUs = (op: string, v: BulkVariant) =>
      perRep(
        mine,
        (r) => r.op === op,
        (r) => r.variant,
        (get) => ((get(v).ms - get('plain').ms) * 1000) / o.rows,
      );
    const of = (op: string, v: BulkVariant) => mine.filter((r) => r.op === op && r.variant === v);
    const times: string[][] = [];
    const costs: string[][] = [];
    for (const op of BULK_OPS) {
      const capturePlain = ratio(op, 'capture', 'plain');
      const floorPlain = ratio(op, 'floor', 'plain');
      const captureFloor = ratio(op, 'capture', 'floor');
      const captureAnchor = ratio(op, 'capture', 'anchor');
      times.push([
        op.toUpperCase(),
        ...BULK_VARIANTS.map((v) => num(medianOf(of(op, v), (r) => r.ms))),
        range(capturePlain),
        range(floorPlain),
        range(captureFloor),
        range(ratio(op, 'anchor', 'plain')),
        range(captureAnchor),
      ]);
      costs.push([
        op.toUpperCase(),
        num(extraUs(op, 'capture').median, 1),
        num(extraUs(op, 'floor').median, 1),
        num(extraUs(op, 'anchor').median, 1),
        num(medianOf(of(op, 'capture'), (r) => r.auditBytes / r.rows)),
        num(medianOf(of(op, 'floor'), (r) => r.auditBytes / r.rows)),
        num(medianOf(of(op, 'anchor'), (r) => r.auditBytes / r.rows)),
      ]);
      const name = `bulk ${op.toUpperCase()} ${fixture}`;
      targets.push({
        name: `${name} capture/floor`,
        limit: '<= 1.20',
        measured: captureFloor,
        met: captureFloor.median <= 1.2,
        floor: floorPlain,
        floorLabel: 'floor/plain',
      });
      if (fixture === 'short' && op !== 'delete') {
        const limit = op === 'insert' ? 3.5 : 4.0;
        targets.push({
          name: `${name} capture/plain`,
          limit: `<= ${limit.toFixed(2)}`,
          measured: capturePlain,
          met: capturePlain.median <= limit,
          floor: floorPlain,
          floorLabel: 'floor/plain',
        });
      }
      if (fixture === 'short') {
        const limit = op === 'delete' ? 0.2 : 0.15;
        targets.push({
          name: `${name} capture/anchor`,
          limit: `<= ${limit.toFixed(2)}`,
          measured: captureAnchor,
          met: captureAnchor.median <= limit,
          floor: ratio(op, 'floor', 'anchor'),
          floorLabel: 'floor/anchor',
        });
      }
    }
    blocks.push(
      `Fixture ${fixture}: ${FIXTURE_NOTE[fixture]}`,
      table(
        [
          'op',
          'plain ms',
          'capture ms',
          'floor ms',
          'anchor ms',
          'capture/plain',
          'floor/plain',
          'capture/floor',
          'anchor/plain',
          'capture/anchor',
        ],
        times,
      ),
      table(
        ['op', 'extra us/row capture', 'floor', 'anchor', 'audit B/change capture', 'floor', 'anchor'],
        costs,
      ),
    );
  }
  return section(
    `1. Bulk statements: ${num(o.rows)} rows in one statement (${o.reps} repetitions)`,
    [
      'Each statement is the only one in a transaction that binds the context (all variants). Before each run:',
      'tables reloaded with triggers off, VACUUM ANALYZE, CHECKPOINT; timed on a fresh connection.',
      'anchor = the common design of other audit libraries: AFTER ROW trigger, per-row transaction upsert,',
      'jsonb NEW/OLD diff, uuid ids and a foreign key (bench/src/anchor.ts).',
      'Ratios are time ratios (higher = slower): median [min-max] of per-repetition ratios.',
    ].join('\n'),
    ...blocks,
  );
}

const FIXTURE_NOTE: Record<Fixture, string> = {
  posts: '~650 B rows, body generated by hashing (md5) per row',
  short: '~60 B rows (ints, a status, repeat() text), generated without hashing',
};

export function singleReport(runs: SingleRun[], o: BenchOptions, targets: Target[]): string {
  const ratio = (op: string, a: SingleVariant, b: SingleVariant) =>
    perRep(
      runs,
      (r) => r.op === op,
      (r) => r.variant,
      (get) => get(a).ms / get(b).ms,
    );
  const extraUs = (op: string, a: SingleVariant, b: SingleVariant) =>
    perRep(
      runs,
      (r) => r.op === op,
      (r) => r.variant,
      (get) => ((get(a).ms - get(b).ms) * 1000) / o.txns,
    );
  const tps = (op: string, v: SingleVariant) =>
    medianOf(
      runs.filter((r) => r.op === op && r.variant === v),
      (r) => (r.txns / r.ms) * 1000,
    );
  const bytes = (op: string, v: SingleVariant) =>
    medianOf(
      runs.filter((r) => r.op === op && r.variant === v),
      (r) => r.auditBytes / r.txns,
    );
  const tpsRows: string[][] = [];
  const ratioRows: string[][] = [];
  for (const op of SINGLE_OPS) {
    const ca = ratio(op, 'capture', 'pg');
    const da = ratio(op, 'floor', 'pg');
    tpsRows.push([
      op.toUpperCase(),
      ...(['pg', 'bound', 'capture', 'floor'] as const).map((v) => num(tps(op, v))),
      num(extraUs(op, 'bound', 'pg').median),
      num(extraUs(op, 'capture', 'pg').median),
      num(extraUs(op, 'capture', 'bound').median),
      num(bytes(op, 'capture')),
      num(bytes(op, 'floor')),
    ]);
    ratioRows.push([
      op.toUpperCase(),
      range(ratio(op, 'bound', 'pg')),
      range(ca),
      range(ratio(op, 'capture', 'bound')),
      range(da),
      range(ratio(op, 'capture', 'floor')),
    ]);
    targets.push({
      name: `single-row ${op.toUpperCase()} txns c/a`,
      limit: '<= 1.50',
      measured: ca,
      met: ca.median <= 1.5,
      floor: da,
      floorLabel: 'floor d/a',
    });
  }
  return section(
    `2. Single-row transactions: ${num(o.txns)} per run, one client (${o.reps} repetitions)`,
    [
      '(a) plain table, node-postgres BEGIN; stmt; COMMIT. (b) plain table via tl.transaction with the context',
      'binding (BEGIN; binding; stmt; finish+COMMIT). (c) audited table via tl.transaction with the binding.',
      '(d) floor: like (b), the statement also writes the audit rows itself (CTE). One connection per variant,',
      'each on its own table; the variants alternate in blocks of 250 transactions in shuffled order. UPDATE',
      `toggles status of rows from a fixed pseudo-random sequence over ${num(o.rows)} loaded rows (same rows for all).`,
      'Time ratios (higher = slower): median [min-max] of per-repetition ratios.',
    ].join('\n'),
    table(
      [
        'op',
        '(a) tps',
        '(b) tps',
        '(c) tps',
        '(d) tps',
        'us/txn b-a',
        'c-a',
        'c-b',
        'audit B/change (c)',
        '(d)',
      ],
      tpsRows,
    ),
    table(['op (time ratios)', 'b/a', 'c/a', 'c/b', 'd/a (floor)', 'c/d'], ratioRows),
  );
}

export function concurrentReport(runs: ConcurrentRun[], o: BenchOptions, targets: Target[]): string {
  const ratio = (v: ConcurrentVariant) =>
    perRep(
      runs,
      () => true,
      (r) => r.variant,
      (get) => get(v).tps / get('plain').tps,
    );
  const rows = (['plain', 'capture', 'floor'] as const).map((v) => {
    const of = runs.filter((r) => r.variant === v);
    return [
      v,
      range(spread(of.map((r) => r.tps)), 0),
      v === 'plain' ? '1' : range(ratio(v)),
      num(of.reduce((s, r) => s + r.failures, 0)),
    ];
  });
  const captured = ratio('capture');
  targets.push({
    name: `${o.clients}-client tps capture/plain`,
    limit: '>= 0.60',
    measured: captured,
    met: captured.median >= 0.6,
    floor: ratio('floor'),
    floorLabel: 'floor/plain tps',
  });
  return section(
    `3. ${o.clients} concurrent clients, single-row UPDATE transactions on random ids, ${o.seconds} s (${o.reps} repetitions)`,
    [
      `A pg Pool of ${o.clients} and ${o.clients} async workers per variant, every transaction through tl.transaction with the`,
      'binding. Each variant has its own table; their 5 s windows alternate in shuffled order. tps ratio: lower = slower.',
    ].join('\n'),
    table(['variant', 'tps median [min-max]', 'tps / plain', 'failed txns'], rows),
  );
}

export function hazardReport(runs: HazardRun[], o: BenchOptions, targets: Target[]): string {
  const pair = (same: HazardCase, fresh: HazardCase, label: string, digits: number, targetName: string) => {
    const s = perRep(
      runs,
      (r) => r.case === same || r.case === fresh,
      (r) => r.case,
      (get) => get(same).ms / get(fresh).ms,
    );
    const timedOut = runs.some((r) => r.case === same && r.timedOut);
    targets.push({
      name: targetName,
      limit: '~1 (<= 1.5)',
      measured: s,
      met: !timedOut && s.median <= 1.5,
    });
    return [
      label,
      num(
        medianOf(
          runs.filter((r) => r.case === same),
          (r) => r.ms,
        ),
        digits,
      ) + (timedOut ? ' (timed out)' : ''),
      num(
        medianOf(
          runs.filter((r) => r.case === fresh),
          (r) => r.ms,
        ),
        digits,
      ),
      (timedOut ? '>= ' : '') + range(s),
    ];
  };
  return section(
    `4. Plan-cache hazard on the audited table (${o.reps} repetitions)`,
    [
      `Same session vs a fresh session with the same table state. 1-row: median of 21 bound 1-row UPDATE`,
      'transactions in each session, the two sessions taking turns; the bulk UPDATE is one statement.',
      'Ratio same/fresh should be ~1; a pathological cached plan shows as 10x or more (below 1 is no hazard).',
    ].join('\n'),
    table(
      ['case', 'same session ms', 'fresh session ms', 'same/fresh'],
      [
        pair(
          'small-after-big',
          'small-fresh',
          `1-row UPDATE after a ${num(o.rows)}-row UPDATE`,
          2,
          'hazard: 1-row after bulk',
        ),
        pair(
          'big-after-small',
          'big-fresh',
          `${num(o.rows)}-row UPDATE after a 1-row UPDATE`,
          0,
          'hazard: bulk after 1-row',
        ),
      ],
    ),
  );
}

export function targetsReport(targets: Target[]): string {
  return section(
    'Targets (median of per-repetition ratios; the floor column is what writing the same audit bytes costs here)',
    'A target stricter than its floor ratio cannot be met by any trigger design on this machine.',
    table(
      ['target', 'limit', 'measured median [min-max]', 'floor on this machine', 'verdict'],
      targets.map((t) => [
        t.name,
        t.limit,
        range(t.measured),
        t.floor ? `${t.floorLabel} ${range(t.floor)}` : '-',
        t.met ? 'met' : 'not met',
      ]),
    ),
  );
}
