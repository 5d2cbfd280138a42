import { value } from '../html/changes.js';
import { html } from '../html/escape.js';
import type { PageContext, PageResult } from '../page-context.js';
import { notAvailable } from './unavailable.js';

export const PRUNE_CONFIRMATION = 'purge audit data';

export async function retentionPage(ctx: PageContext, message?: string): Promise<PageResult> {
  const cli = 'threadline retention purge --dry-run';
  if (!ctx.ops.retention) return { title: 'Retention', cli, body: notAvailable('Retention', cli) };
  const runs = await ctx.ops.retention.runs({ limit: 20 });
  const preview = ctx.query.get('preview') === '1' ? await ctx.ops.retention.purge({ dryRun: true }) : null;
  return {
    title: 'Retention',
    cli,
    body: html`${message ? html`<p class="notice" role="status">${message}</p>` : ''}
<p><a href="${ctx.link('/retention', { preview: '1' })}">Preview what a purge would remove (dry run)</a></p>
${preview ? html`<pre class="preview">${value(preview, 2000)}</pre>` : ''}
${
  ctx.grant.canPrune
    ? html`<form method="post" action="${ctx.link('/retention/purge')}" class="danger" aria-label="Purge expired audit data">
<input type="hidden" name="csrf" value="${ctx.csrfToken}">
<label for="confirm">Type <kbd>${PRUNE_CONFIRMATION}</kbd> to purge audit data older than the retention window</label>
<input id="confirm" name="confirm" autocomplete="off" required>
<button type="submit">Purge now</button></form>`
    : html`<p class="meta">Purging needs <code>canPrune</code> in your grant.</p>`
}
<h2>Runs</h2>
${runs.length === 0 ? html`<p class="empty">No retention runs yet.</p>` : html`<ul class="runs">${runs.map((r) => html`<li>${value(r, 400)}</li>`)}</ul>`}`,
  };
}
