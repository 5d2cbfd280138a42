import type { BenchOptions } from './options.js';
import { num, range, section, table } from './print.js';
import { medianOf, perRep } from './report.js';
import type { ConcurrentRun } from './workloads/concurrent.js';
import { SINGLE_OPS, type SingleRun } from './workloads/single.js';

/**
 * --compare-invoker: capture as shipped (SECURITY DEFINER functions, issue 12) against capture
 * as it was before (the same functions SECURITY INVOKER), in the same runs. Time ratios > 1 and
 * tps ratios < 1 mean the definer design is slower. (TPC-B's comparison is in its own section.)
 */
export function invokerReport(
  single: SingleRun[] | undefined,
  concurrent: ConcurrentRun[] | undefined,
  o: BenchOptions,
): string {
  const rows: string[][] = [];
  for (const op of SINGLE_OPS) {
    const mine = (single ?? []).filter((r) => r.op === op);
    if (!mine.some((r) => r.variant === 'invoker')) continue;
    const by = (f: (get: (v: string) => SingleRun) => number) =>
      perRep(
        mine,
        () => true,
        (r) => r.variant,
        f,
      );
    const tps = (v: string) =>
      num(
        medianOf(
          mine.filter((r) => r.variant === v),
          (r) => (r.txns / r.ms) * 1000,
        ),
      );
    rows.push([
      `single-row ${op.toUpperCase()} txns (time)`,
      tps('capture'),
      tps('invoker'),
      range(by((get) => get('capture').ms / get('invoker').ms)),
      num(by((get) => ((get('capture').ms - get('invoker').ms) * 1000) / o.txns).median, 1),
      range(by((get) => get('invoker').ms / get('pg').ms)),
      range(by((get) => get('capture').ms / get('pg').ms)),
    ]);
  }
  const conc = concurrent ?? [];
  if (conc.some((r) => r.variant === 'invoker')) {
    const by = (f: (get: (v: string) => ConcurrentRun) => number) =>
      perRep(
        conc,
        () => true,
        (r) => r.variant,
        f,
      );
    const tps = (v: string) =>
      num(
        medianOf(
          conc.filter((r) => r.variant === v),
          (r) => r.tps,
        ),
      );
    rows.push([
      `${o.clients}-client UPDATE (tps)`,
      tps('capture'),
      tps('invoker'),
      range(by((get) => get('capture').tps / get('invoker').tps)),
      '-',
      range(by((get) => get('invoker').tps / get('plain').tps)),
      range(by((get) => get('capture').tps / get('plain').tps)),
    ]);
  }
  if (rows.length === 0) return '';
  return section(
    'Security design cost (--compare-invoker): capture as SECURITY DEFINER (now) vs SECURITY INVOKER (before issue 12)',
    [
      'Same generated functions, same runs, interleaved; only SECURITY DEFINER differs (the functions already',
      'carried SET clauses, so both go through the same function-call wrapper). Single-row: time ratios',
      '(> 1 = definer slower); concurrency: tps ratios (< 1 = definer slower). TPC-B: see its section.',
    ].join('\n'),
    table(
      [
        'workload',
        'definer tps',
        'invoker tps',
        'definer/invoker',
        'us/txn definer-invoker',
        'invoker vs plain',
        'definer vs plain',
      ],
      rows,
    ),
  );
}
