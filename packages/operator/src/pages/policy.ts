import { value } from '../html/changes.js';
import { html } from '../html/escape.js';
import type { PageContext, PageResult } from '../page-context.js';
import { notAvailable, notGranted } from './unavailable.js';

/** Configured vs deployed redaction: column names and placeholders only, never a value. */
export async function policyPage(ctx: PageContext): Promise<PageResult> {
  const cli = 'threadline policy show';
  if (!ctx.ops.policy)
    return { title: 'Redaction policy', cli, body: notAvailable('The redaction policy view', cli) };
  if (!ctx.grant.canSeePolicy)
    return { title: 'Redaction policy', cli, body: notGranted('the redaction policy', 'canSeePolicy') };
  const shown = await ctx.ops.policy.show();
  const entries = Array.isArray(shown) ? shown : shown.tables;
  return {
    title: 'Redaction policy',
    cli,
    body: html`<table class="policy"><thead><tr><th scope="col">Table</th><th scope="col">State</th><th scope="col">Configured</th><th scope="col">Deployed</th><th scope="col">Differences</th></tr></thead><tbody>
${entries.map(
  (e) =>
    html`<tr><td>${value(e.table, 130)}</td><td><span class="state state-${e.state}">${e.state.replace(/_/g, ' ')}</span></td><td>${value(e.configured ?? null, 300)}</td><td>${value(e.deployed ?? null, 300)}</td><td>${value(e.differences ?? null, 300)}</td></tr>`,
)}
</tbody></table>`,
  };
}
