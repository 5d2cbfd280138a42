import type { TimelineFilters } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import { printChangePage } from '../render-changes.js';
import type { Command } from './command.js';
import { PAGE_OPTIONS, pageOptions, WINDOW_OPTIONS, windowOptions } from './query-flags.js';

export const timelineCommand: Command = {
  path: ['timeline'],
  summary:
    'captured changes matching filters (table, actor, time window, correlation, request or job id), newest first',
  usage:
    'threadline timeline [--table T] [--table-schema S] [--actor type:id|none] [--from ISO] [--to ISO] [--correlation-id ID] [--request-id ID] [--job-id ID] [--page-size N] [--cursor C] [--json]',
  options: {
    table: {
      type: 'string',
      value: 'T',
      description: 'only this table (name or schema.name, exact and case-sensitive)',
    },
    'table-schema': {
      type: 'string',
      value: 'S',
      description:
        'only tables in this schema (--schema is the storage schema); with --table, the table must be named schema.name in it',
    },
    actor: {
      type: 'string',
      value: 'type:id|none',
      description:
        'only changes in transactions bound to this actor, e.g. user:42, service_account:billing, anonymous; none: transactions with no actor bound at all',
    },
    ...WINDOW_OPTIONS,
    'correlation-id': {
      type: 'string',
      value: 'ID',
      description:
        'only transactions carrying this correlation id, or linked to an action that does (at most 256 bytes)',
    },
    'request-id': {
      type: 'string',
      value: 'ID',
      description: 'only transactions of this request (every transaction that carried its request id)',
    },
    'job-id': {
      type: 'string',
      value: 'ID',
      description: 'only transactions of this job (every transaction that carried its job id)',
    },
    ...PAGE_OPTIONS,
  },
  details: [
    'Filters combine with AND. An empty page exits 0.',
    '--actor anonymous matches transactions bound to the anonymous actor; --actor none matches',
    'transactions with no actor bound (no context, or a context without an actor).',
  ].join('\n'),
  async run(ctx) {
    const filters: TimelineFilters = { ...windowOptions(ctx) };
    const flag = (name: string) => ctx.flags[name] as string | undefined;
    if (flag('table') !== undefined) filters.table = flag('table');
    if (flag('table-schema') !== undefined) filters.tableSchema = flag('table-schema');
    const actor = flag('actor');
    if (actor !== undefined) filters.actor = actor.trim() === 'none' ? null : actor;
    if (flag('correlation-id') !== undefined) filters.correlationId = flag('correlation-id');
    if (flag('request-id') !== undefined) filters.requestId = flag('request-id');
    if (flag('job-id') !== undefined) filters.jobId = flag('job-id');
    const paging = pageOptions(ctx);
    const tl = await ctx.threadline();
    const page = await tl.timeline(filters, paging);
    if (ctx.json) {
      ctx.out.json(page);
      return ExitCode.ok;
    }
    printChangePage(ctx.out, page, (c) => tl.changeDiff(c), {
      showTable: true,
      empty: `no captured changes match${paging.cursor ? ' after this cursor' : ''}`,
    });
    return ExitCode.ok;
  },
};
