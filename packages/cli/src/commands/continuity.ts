import { ActorRef } from '@threadline/core';
import { splitTableList } from '@threadline/core/internal';
import { ExitCode } from '../exit-codes.js';
import type { Command } from './command.js';

export const continuityCommand: Command = {
  path: ['continuity'],
  summary: 'brownfield readiness: per captured table, the current rows that have no history yet',
  usage: 'threadline continuity [--table T] [--json]',
  options: {
    table: { type: 'string', value: 'T', description: 'only this table (or a comma-separated list)' },
  },
  details: [
    'Rows that existed before capture was installed have no history until their next change; asOf says',
    'before_horizon for them. `threadline continuity baseline --table T` records them as a baseline.',
    'Counting reads the tables (SELECT), so it takes longer on large tables.',
  ].join('\n'),
  async run(ctx) {
    const table = ctx.flags.table as string | undefined;
    const tables = table === undefined ? undefined : splitTableList(table);
    const tl = await ctx.threadline();
    const report = await tl.continuity.report(tables ? { tables } : {});
    if (ctx.json) {
      ctx.out.json(report);
      return ExitCode.ok;
    }
    if (report.tables.length === 0) {
      ctx.out.line('No captured tables.');
      return ExitCode.ok;
    }
    ctx.out.table(
      report.tables.map((t) => ({
        table: t.table,
        status: t.status,
        'captured since': t.capturedSince ?? '-',
        rows: t.rowsNow ?? '-',
        'without history': t.rowsWithoutHistory ?? '-',
        'last baseline': t.lastBaselineAt ?? '-',
      })),
      ['table', 'status', 'captured since', 'rows', 'without history', 'last baseline'],
    );
    for (const t of report.tables) if (t.hint) ctx.out.line(`- ${t.table}: ${t.hint}`);
    return ExitCode.ok;
  },
};

export const continuityBaselineCommand: Command = {
  path: ['continuity', 'baseline'],
  summary: "opt-in: record a captured table's current rows as op 'baseline' (batched, resumable, idempotent)",
  usage: 'threadline continuity baseline --table T [--batch-size N] [--actor type:id] [--json]',
  options: {
    table: { type: 'string', value: 'T', description: 'the captured table (name or schema.name)' },
    'batch-size': { type: 'string', value: 'N', description: 'rows per transaction (default 1000)' },
    actor: {
      type: 'string',
      value: 'type:id',
      description: 'who records the baseline (default system:threadline-cli)',
    },
  },
  details: [
    "Each batch is one transaction with source 'threadline:baseline'. Rows that already have history or a",
    'baseline are skipped, so an interrupted run is resumed by running it again. asOf answers for these rows',
    'from the baseline on, and still says before_horizon before it.',
  ].join('\n'),
  async run(ctx) {
    const table = ctx.flags.table as string | undefined;
    if (table === undefined || table.trim() === '') throw ctx.usageError('--table T is required');
    const sizeText = ctx.flags['batch-size'] as string | undefined;
    const batchSize = sizeText === undefined ? undefined : Number(sizeText);
    if (batchSize !== undefined && (!/^\d+$/.test(sizeText!.trim()) || batchSize < 1 || batchSize > 100_000))
      throw ctx.usageError('--batch-size must be a whole number from 1 to 100000');
    const actor = ActorRef.fromString((ctx.flags.actor as string | undefined) ?? 'system:threadline-cli');
    const tl = await ctx.threadline();
    let progress: ReturnType<typeof ctx.out.progress> | undefined;
    const result = await tl.continuity.baseline({
      table,
      actor,
      ...(batchSize !== undefined ? { batchSize } : {}),
      onProgress: (p) => {
        progress ??= ctx.out.progress('baseline', Math.max(1, Math.ceil(p.total / (batchSize ?? 1000))));
        progress.step(`${p.table}: ${p.scanned}/${p.total} rows read, ${p.recorded} recorded`);
      },
    });
    progress?.done();
    if (ctx.json) {
      ctx.out.json(result);
      return ExitCode.ok;
    }
    ctx.out.line(
      `${result.table}: ${result.recorded} baseline row(s) recorded, ${result.scanned - result.recorded} already had history (${result.batches} batch(es))`,
    );
    return ExitCode.ok;
  },
};
