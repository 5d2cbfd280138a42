import type { PurgeResult } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import type { Command, CommandContext } from './command.js';

function wholeNumber(ctx: CommandContext, name: string): number | undefined {
  const raw = ctx.flags[name] as string | undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!/^\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < 1) {
    throw ctx.usageError(
      `--${name} must be a whole number of at least 1, got ${JSON.stringify(raw.slice(0, 20))}`,
    );
  }
  return n;
}

export const retentionPurgeCommand: Command = {
  path: ['retention', 'purge'],
  summary:
    'delete audit data older than the retention window (config `retention`); --dry-run counts it first',
  usage:
    'threadline retention purge (--dry-run | --execute) [--batch-size N] [--max-batches N] [--cutoff ISO] [--json]',
  options: {
    'dry-run': { type: 'boolean', description: 'count exactly what a purge would delete; delete nothing' },
    execute: { type: 'boolean', description: 'delete it, in batches (progress on a terminal)' },
    'batch-size': { type: 'string', value: 'N', description: 'changes per batch (default: the policy, 500)' },
    'max-batches': {
      type: 'string',
      value: 'N',
      description: 'stop after N batches (default: the policy, 10000)',
    },
    cutoff: {
      type: 'string',
      value: 'ISO',
      description: 'purge only before this instant; it may only be older than the policy cutoff',
    },
  },
  details:
    'The policy comes from the config file: retention: { enabled: true, keepDays: 365 } (or maxAgeSeconds). With retention.archive: { dir } each batch is first written there as gzip NDJSON (export format) with a manifest; a failed archive deletes nothing. One run at a time per database. Exit 0 when the run completed, 1 when --max-batches stopped it early.',
  async run(ctx) {
    const dryRun = ctx.flags['dry-run'] === true;
    const execute = ctx.flags.execute === true;
    if (dryRun === execute) {
      throw ctx.usageError('give exactly one of --dry-run (count only) or --execute (delete)');
    }
    const batchSize = wholeNumber(ctx, 'batch-size');
    const maxBatches = wholeNumber(ctx, 'max-batches');
    const cutoff = ctx.flags.cutoff as string | undefined;
    const tl = await ctx.threadline();
    const bar = ctx.out.progress('purging: batch', maxBatches ?? tl.retention.policy?.maxBatches ?? 10_000);
    const result: PurgeResult = await tl.retention.purge({
      dryRun,
      ...(batchSize ? { batchSize } : {}),
      ...(maxBatches ? { maxBatches } : {}),
      ...(cutoff !== undefined ? { cutoff } : {}),
      onBatch: (p) =>
        bar.step(
          `${p.deletedChanges.toLocaleString('en-US')} changes and ${p.deletedTransactions.toLocaleString('en-US')} transactions deleted`,
        ),
    });
    bar.done();
    if (ctx.json) {
      ctx.out.json(result);
    } else {
      ctx.out.line(
        `${dryRun ? 'Dry run (nothing deleted): would delete' : 'Deleted'} ${result.deletedChanges.toLocaleString('en-US')} changes, ${result.deletedTransactions.toLocaleString('en-US')} transactions and ${result.deletedActions.toLocaleString('en-US')} actions captured before ${result.cutoff} (run #${result.runId}, ${result.droppedPartitions} whole partition${result.droppedPartitions === 1 ? '' : 's'} ${dryRun ? 'to drop' : 'dropped'}, ${result.batchesRun} batch${result.batchesRun === 1 ? '' : 'es'}).`,
      );
      const archive = result.archive;
      if (archive && archive.target !== 'callback') {
        ctx.out.line(
          archive.parts === 0
            ? `Archive: nothing to archive (directory ${archive.target}).`
            : `Archived ${archive.rows.toLocaleString('en-US')} changes before deleting them: ${archive.parts} gzip NDJSON part${archive.parts === 1 ? '' : 's'} in ${archive.target} (${archive.firstFile}${archive.parts > 1 ? ` … ${archive.lastFile}` : ''}), each with a .manifest.json (row count, sha256).`,
        );
      } else if (archive) {
        ctx.out.line(
          `Archived ${archive.rows.toLocaleString('en-US')} changes in ${archive.parts} batch${archive.parts === 1 ? '' : 'es'} through the retention.archive callback before deleting them.`,
        );
      }
      if (!result.complete) ctx.out.note(`Stopped after --max-batches: run it again to delete the rest.`);
    }
    return result.complete ? ExitCode.ok : ExitCode.failed;
  },
};

export const retentionRunsCommand: Command = {
  path: ['retention', 'runs'],
  summary: 'recent retention runs, newest first (status, cutoff, counts, who ran them)',
  usage: 'threadline retention runs [--limit N] [--json]',
  options: { limit: { type: 'string', value: 'N', description: 'how many runs (default 20, at most 1000)' } },
  async run(ctx) {
    const limit = wholeNumber(ctx, 'limit');
    const tl = await ctx.threadline();
    const runs = await tl.retention.runs(limit ? { limit } : {});
    if (ctx.json) {
      ctx.out.json(runs);
      return ExitCode.ok;
    }
    if (runs.length === 0) {
      ctx.out.note('no retention runs yet');
      return ExitCode.ok;
    }
    ctx.out.table(
      runs.map((r) => ({
        run: r.id,
        started: r.startedAt,
        status: r.status,
        dryRun: r.dryRun ? 'yes' : 'no',
        cutoff: r.cutoff,
        changes: r.deletedChanges,
        transactions: r.deletedTransactions,
        partitions: r.droppedPartitions,
        batches: r.batches,
        by: r.actor ? (r.actor.type === 'anonymous' ? 'anonymous' : `${r.actor.type}:${r.actor.id}`) : '',
        error: r.error ?? '',
      })),
      [
        'run',
        'started',
        'status',
        { key: 'dryRun', header: 'dry run' },
        'cutoff',
        'changes',
        'transactions',
        { key: 'partitions', header: 'dropped partitions' },
        'batches',
        'by',
        'error',
      ],
    );
    return ExitCode.ok;
  },
};
