import type { MaintainProgress, StorageStatus } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import type { Command } from './command.js';

/** One line per maintain step (a partition created, rows moved out of the default partition). */
export function describeStep(p: MaintainProgress): string {
  if (p.step === 'converted')
    return `converted audit_changes: it is now the default partition (about ${(p.remaining ?? 0).toLocaleString('en-US')} rows to move)`;
  if (p.step === 'created') return `created partition ${p.partition}`;
  if (p.step === 'keyed')
    return `keyed ${p.rows.toLocaleString('en-US')} changes written before table ids${p.remaining === null ? '' : `; ${p.remaining.toLocaleString('en-US')} left`}`;
  return `moved ${p.rows.toLocaleString('en-US')} changes into ${p.partition}${p.remaining === null ? '' : `; ${p.remaining.toLocaleString('en-US')} left in the default partition`}`;
}

const size = (bytes: number) =>
  bytes >= 1 << 30
    ? `${(bytes / (1 << 30)).toFixed(1)} GB`
    : bytes >= 1 << 20
      ? `${(bytes / (1 << 20)).toFixed(1)} MB`
      : `${Math.round(bytes / 1024)} kB`;

export const storageStatusCommand: Command = {
  path: ['storage', 'status'],
  summary: 'audit_changes partitions: ranges, sizes, row estimates, oldest and newest captured_at',
  usage: 'threadline storage status [--json]',
  options: {},
  details:
    'Exit 1 when the default partition holds rows or an upgrade is pending: run `threadline storage maintain`.',
  async run(ctx) {
    const tl = await ctx.threadline();
    const status: StorageStatus = await tl.storage.status();
    const attention = status.migrationPending || status.defaultPartitionRows > 0;
    if (ctx.json) {
      ctx.out.json(status);
      return attention ? ExitCode.failed : ExitCode.ok;
    }
    ctx.out.line(
      `audit_changes in schema "${status.schema}": ${status.layout} (configured: ${status.partition}), ${size(status.totalBytes)} in ${status.partitions.length} table${status.partitions.length === 1 ? '' : 's'}.`,
    );
    ctx.out.table(
      status.partitions.map((p) => ({
        partition: p.name,
        range: p.isDefault ? 'DEFAULT' : p.from ? `${p.from} .. ${p.to}` : '',
        size: size(p.bytes),
        rows: p.rowEstimate === null ? '?' : `~${p.rowEstimate.toLocaleString('en-US')}`,
        oldest: p.oldestCapturedAt ?? '',
        newest: p.newestCapturedAt ?? '',
      })),
      ['partition', 'range', 'size', 'rows', 'oldest', 'newest'],
    );
    if (status.migrationPending && status.unkeyedRows > 0 && status.layout === 'partitioned')
      ctx.out.note(
        `${status.unkeyedRows.toLocaleString('en-US')} changes written before table ids are not keyed yet (queries still find them): run \`threadline storage maintain\``,
      );
    else if (status.migrationPending)
      ctx.out.note(
        'audit_changes is not partitioned yet, or older changes are not keyed yet: run `threadline install --apply` (or `threadline storage maintain`) to finish the upgrade in place',
      );
    else if (status.defaultPartitionRows > 0)
      ctx.out.note(
        `the default partition holds ${status.defaultPartitionRows.toLocaleString('en-US')} changes no range partition takes: run \`threadline storage maintain\` to move them`,
      );
    else if (status.coveredUntil) ctx.out.note(`partitions exist until ${status.coveredUntil}`);
    return attention ? ExitCode.failed : ExitCode.ok;
  },
};

export const storageMaintainCommand: Command = {
  path: ['storage', 'maintain'],
  summary: 'create partitions ahead, move rows out of the default partition, finish a pending upgrade',
  usage: 'threadline storage maintain [--json]',
  options: {},
  details:
    'Safe to run any time (daily from cron is plenty; every retention run also creates partitions ahead). Each partition is created, and its rows moved out of the default partition, in one transaction; captures into that range wait for it, other captures do not.',
  async run(ctx) {
    const tl = await ctx.threadline();
    const result = await tl.storage.maintain({
      onProgress: (p) => {
        if (!ctx.json) ctx.out.note(describeStep(p));
      },
    });
    if (ctx.json) {
      ctx.out.json(result);
      return ExitCode.ok;
    }
    ctx.out.line(
      `${result.converted ? 'Converted audit_changes to partitions. ' : ''}Created ${result.created.length} partition${result.created.length === 1 ? '' : 's'}; moved ${result.movedRows.toLocaleString('en-US')} changes out of the default partition (${result.defaultPartitionRows.toLocaleString('en-US')} left).`,
    );
    return ExitCode.ok;
  },
};
