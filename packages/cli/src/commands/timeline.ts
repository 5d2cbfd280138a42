import { ExitCode } from '../exit-codes.js';
import { printChangePage } from '../render-changes.js';
import type { Command } from './command.js';
import { PAGE_OPTIONS, pageOptions, TIMELINE_FILTER_OPTIONS, timelineFilters } from './query-flags.js';

export const timelineCommand: Command = {
  path: ['timeline'],
  summary:
    'captured changes matching filters (table, actor, time window, correlation, request or job id), newest first',
  usage:
    'threadline timeline [--table T] [--table-schema S] [--actor type:id|none] [--from ISO] [--to ISO] [--correlation-id ID] [--request-id ID] [--job-id ID] [--page-size N] [--cursor C] [--json]',
  options: {
    ...TIMELINE_FILTER_OPTIONS,
    ...PAGE_OPTIONS,
  },
  details: [
    'Filters combine with AND. An empty page exits 0.',
    '--actor anonymous matches transactions bound to the anonymous actor; --actor none matches',
    'transactions with no actor bound (no context, or a context without an actor).',
  ].join('\n'),
  async run(ctx) {
    const filters = timelineFilters(ctx);
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
