import { changesTable } from '../html/changes.js';
import { html } from '../html/escape.js';
import { cliCommand } from '../html/shell-quote.js';
import type { PageContext, PageResult } from '../page-context.js';
import { activityChart } from './activity.js';
import { filterForm, filtersFromQuery, toTimelineFilters } from './filters.js';

const PAGE_SIZE = 50;
const COUNT_CAP = 10_000;

export async function timelinePage(ctx: PageContext): Promise<PageResult> {
  const f = filtersFromQuery(ctx.query);
  const filters = toTimelineFilters(f);
  const cursor = ctx.query.get('cursor') || null;
  const page = await ctx.tl.timeline(filters as never, { cursor, pageSize: PAGE_SIZE });
  const count = ctx.ops.export ? await ctx.ops.export.count(filters, { cap: COUNT_CAP }) : null;
  const base = Object.fromEntries(Object.entries(f));
  const chart = await activityChart(ctx, filters, (bucket) => ctx.link('/timeline', { ...base, bucket }));
  return {
    title: 'Timeline',
    cli: cliCommand([
      'threadline timeline',
      ['--table', f.table],
      ['--actor', f.actor],
      ['--from', f.from],
      ['--to', f.to],
      ['--correlation-id', f.correlationId],
      ['--request-id', f.requestId],
      ['--job-id', f.jobId],
    ]),
    body: html`${filterForm(ctx, '/timeline', f)}
${count ? html`<p class="count">${count.capped ? `${COUNT_CAP.toLocaleString('en-US')}+` : count.count.toLocaleString('en-US')} changes match.</p>` : ''}
${chart}
${changesTable(ctx, page.entries, cursor ? 'Changes (continued), newest first' : 'Changes, newest first')}
<nav class="pager" aria-label="Pages">
${cursor ? html`<a href="${ctx.link('/timeline', base)}">First page</a>` : ''}
${page.hasMore && page.cursor ? html`<a rel="next" href="${ctx.link('/timeline', { ...base, cursor: page.cursor })}">Next ${PAGE_SIZE}</a>` : html`<span class="end">End of results</span>`}
</nav>`,
  };
}
