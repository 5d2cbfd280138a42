import { changesTable } from '../html/changes.js';
import { html } from '../html/escape.js';
import type { PageContext, PageResult } from '../page-context.js';
import { integrityStatusFor, integritySummary } from './integrity.js';

export async function homePage(ctx: PageContext): Promise<PageResult> {
  const [recent, integrity] = await Promise.all([
    ctx.tl.timeline({}, { pageSize: 10 }),
    integrityStatusFor(ctx),
  ]);
  return {
    title: 'Audit trail',
    body: html`<div class="cards">
<form method="get" action="${ctx.link('/row')}" class="card" aria-label="Row history">
<h2>What happened to a row?</h2>
<div class="field"><label for="h-table">Table</label><input id="h-table" name="table" required placeholder="posts"></div>
<div class="field"><label for="h-pk">Key</label><input id="h-pk" name="pk" required placeholder="42"></div>
<button type="submit">Show history</button></form>
<form method="get" action="${ctx.link('/timeline')}" class="card" aria-label="Correlation">
<h2>What did one request do?</h2>
<div class="field"><label for="h-corr">Correlation id</label><input id="h-corr" name="correlationId" required></div>
<button type="submit">Show changes</button></form>
<form method="get" action="${ctx.link('/transaction')}" class="card" aria-label="Transaction">
<h2>Open an audit transaction</h2>
<div class="field"><label for="h-tx">Transaction #</label><input id="h-tx" name="id" required inputmode="numeric" pattern="[0-9]+"></div>
<button type="submit">Open</button></form>
${integrity ? integritySummary(ctx, integrity) : ''}
</div>
<h2>Latest changes</h2>
${changesTable(ctx, recent.entries, 'The 10 latest changes')}
<p><a href="${ctx.link('/timeline')}">Open the timeline</a></p>`,
  };
}
