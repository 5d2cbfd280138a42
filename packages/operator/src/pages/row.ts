import type { AsOfResult, RowKey } from '@threadline/core';
import { changesTable, value } from '../html/changes.js';
import { type Html, html } from '../html/escape.js';
import { cliCommand } from '../html/shell-quote.js';
import type { PageContext, PageResult } from '../page-context.js';

/** `pk` as typed: JSON object for a composite key, else the text (converted with the key column's type). */
export function parseKey(text: string): RowKey {
  const t = text.trim();
  if (t.startsWith('{')) {
    try {
      const parsed = JSON.parse(t) as unknown;
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) return parsed as RowKey;
    } catch {
      // not JSON: used as the key text
    }
  }
  return t;
}

export async function rowPage(ctx: PageContext): Promise<PageResult> {
  const table = ctx.query.get('table')?.trim() ?? '';
  const pk = ctx.query.get('pk')?.trim() ?? '';
  const at = ctx.query.get('at')?.trim() ?? '';
  const cursor = ctx.query.get('cursor') || null;
  const form = html`<form method="get" action="${ctx.link('/row')}" class="filters" aria-label="Find a row">
<div class="field"><label for="r-table">Table</label><input id="r-table" name="table" value="${table}" placeholder="posts or billing.invoices" required></div>
<div class="field"><label for="r-pk">Key</label><input id="r-pk" name="pk" value="${pk}" placeholder='42, or {"org_id":1,"id":9}' required></div>
<div class="field"><label for="r-at">As of (ISO 8601, optional)</label><input id="r-at" name="at" value="${at}" placeholder="2026-12-01T10:00:00Z"></div>
<div class="actions"><button type="submit">Show history</button></div>
</form>`;
  if (!table || !pk)
    return { title: 'Row history', body: form, cli: 'threadline history <table> <pk> [--as-of ISO]' };
  const key = parseKey(pk);
  const asOf = at ? await ctx.tl.asOf(table, key, at) : null;
  const page = await ctx.tl.history(table, key, { cursor, pageSize: 50 });
  return {
    title: `History of ${table} ${pk}`,
    cli: cliCommand(['threadline history', table, pk, ['--as-of', at || null]]),
    body: html`${form}
${asOf ? asOfBox(asOf, at) : ''}
${changesTable(ctx, page.entries, 'Changes of this row, newest first')}
<nav class="pager" aria-label="Pages">
${page.hasMore && page.cursor ? html`<a rel="next" href="${ctx.link('/row', { table, pk, at, cursor: page.cursor })}">Older changes</a>` : html`<span class="end">No older changes</span>`}
</nav>`,
  };
}

function asOfBox(result: AsOfResult, at: string): Html {
  if (result.status === 'before_horizon') {
    return html`<section class="asof asof-horizon" aria-label="Row as of ${at}"><h2>As of ${at}: before the audit horizon</h2>
<p>No captured change of this row is that old, so its state then is unknown${result.firstChange ? html` (first captured: ${result.firstChange.op} at ${result.firstChange.capturedAt})` : ''}.</p></section>`;
  }
  if (result.status === 'deleted') {
    return html`<section class="asof asof-deleted" aria-label="Row as of ${at}"><h2>As of ${at}: deleted</h2>
<p>Deleted at ${result.deletedAt}.</p>${result.lastRow ? rowTable(result.lastRow, 'Last known values') : ''}</section>`;
  }
  return html`<section class="asof asof-found" aria-label="Row as of ${at}"><h2>As of ${at}: found</h2>${rowTable(result.row, 'Values')}</section>`;
}

function rowTable(row: Record<string, unknown>, caption: string): Html {
  return html`<table class="row"><caption>${caption}</caption><tbody>
${Object.entries(row).map(([k, v]) => html`<tr><th scope="row">${value(k, 63)}</th><td>${value(v, 300)}</td></tr>`)}
</tbody></table>`;
}
