import type { BenchOptions } from './options.js';
import { num, range, section, table } from './print.js';
import { medianOf, perRep, type Target } from './report.js';
import { type TpcbVariant, tpcbVariants } from './tpcb-schema.js';
import { TPCB_CLIENTS, type TpcbRun } from './workloads/tpcb.js';

export function tpcbReport(runs: TpcbRun[], o: BenchOptions, targets: Target[]): string {
  const rows: string[][] = [];
  const present = tpcbVariants(runs.some((r) => r.variant === 'invoker'));
  for (const clients of TPCB_CLIENTS) {
    const mine = runs.filter((r) => r.clients === clients);
    const ratio = (a: TpcbVariant, b: TpcbVariant) =>
      perRep(
        mine,
        () => true,
        (r) => r.variant,
        (get) => get(a).tps / get(b).tps,
      );
    const kept = ratio('capture', 'plain');
    const anchorKept = ratio('anchor', 'plain');
    const vsAnchor = ratio('capture', 'anchor');
    rows.push([
      String(clients),
      ...present.map((v) =>
        num(
          medianOf(
            mine.filter((r) => r.variant === v),
            (r) => r.tps,
          ),
        ),
      ),
      range(ratio('bound', 'plain')),
      range(kept),
      range(ratio('floor', 'plain')),
      range(anchorKept),
      range(vsAnchor),
      ...(present.includes('invoker')
        ? [range(ratio('invoker', 'plain')), range(ratio('capture', 'invoker'))]
        : []),
      num(mine.reduce((s, r) => s + r.failed, 0)),
    ]);
    const limit = clients === 1 ? 0.7 : 0.6;
    targets.push({
      name: `TPC-B ${clients} client(s) tps kept`,
      limit: `>= ${limit.toFixed(2)}`,
      measured: kept,
      met: kept.median >= limit,
      floor: ratio('floor', 'plain'),
      floorLabel: 'floor/plain tps',
    });
    targets.push({
      name: `TPC-B ${clients} client(s) capture/anchor tps`,
      limit: '>= 1.30',
      measured: vsAnchor,
      met: vsAnchor.median >= 1.3,
      floor: ratio('floor', 'anchor'),
      floorLabel: 'floor/anchor tps',
    });
  }
  return section(
    `5. pgbench TPC-B transaction, all four tables audited, scale ${o.tpcbScale}, ${o.tpcbSeconds} s per run (${o.reps} repetitions)`,
    [
      "pgbench's tpcb-like script (3 UPDATEs, 1 SELECT, 1 INSERT; pgbench_history with a primary key), run by the",
      'real pgbench (-M prepared). plain = the script as is; bound = plus the context binding statement; capture =',
      'binding + Threadline capture on all four tables; floor = binding + every statement writes its own audit row',
      '(CTE, unindexed); anchor = binding + AFTER ROW anchor triggers; invoker (--compare-invoker) = capture as',
      'before issue 12 (SECURITY INVOKER functions). Runs alternate in shuffled order.',
      'tps ratios (lower = slower): median [min-max] of per-repetition ratios.',
    ].join('\n'),
    table(
      [
        'clients',
        ...present.map((v) => `${v} tps`),
        'bound/plain',
        'capture/plain (kept)',
        'floor/plain',
        'anchor/plain',
        'capture/anchor',
        ...(present.includes('invoker') ? ['invoker/plain', 'capture/invoker'] : []),
        'failed',
      ],
      rows,
    ),
  );
}
