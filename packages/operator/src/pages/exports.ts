import { html } from '../html/escape.js';
import type { PageContext, PageResult } from '../page-context.js';
import { filterForm, filtersFromQuery } from './filters.js';
import { notAvailable, notGranted } from './unavailable.js';

export async function exportsPage(ctx: PageContext): Promise<PageResult> {
  const cli = 'threadline export --format csv --out audit.csv';
  if (!ctx.ops.export) return { title: 'Exports', cli, body: notAvailable('Export', cli) };
  if (!ctx.grant.canExport) return { title: 'Exports', cli, body: notGranted('exports', 'canExport') };
  const f = filtersFromQuery(ctx.query);
  const params = Object.fromEntries(Object.entries(f));
  return {
    title: 'Exports',
    cli,
    body: html`<p>Download the changes that match the timeline filters. Every download is recorded as a <code>threadline.export</code> action by you.</p>
${filterForm(ctx, '/exports', f)}
<ul class="downloads">
${(['csv', 'json', 'ndjson'] as const).map(
  (format) =>
    html`<li><a href="${ctx.link('/exports/download', { ...params, format })}" download>Download ${format.toUpperCase()}</a></li>`,
)}
</ul>`,
  };
}
