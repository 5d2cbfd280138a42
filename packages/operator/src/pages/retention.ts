import { actorText, value } from '../html/changes.js';
import { type Html, html } from '../html/escape.js';
import type { PageContext, PageResult } from '../page-context.js';
import { notAvailable } from './unavailable.js';

export const PRUNE_CONFIRMATION = 'purge audit data';

interface RunRow {
  id: string;
  startedAt: string;
  status: string;
  dryRun: boolean;
  cutoff: string;
  deletedChanges: number;
  deletedTransactions: number;
  batches: number;
  error: string | null;
  actor: { type: string; id?: string } | null;
}

function days(seconds: number): string {
  return seconds % 86_400 === 0 ? `${seconds / 86_400} days` : `${seconds.toLocaleString('en-US')} seconds`;
}

export async function retentionPage(ctx: PageContext, message?: Html | string): Promise<PageResult> {
  const cli = 'threadline retention purge --dry-run';
  if (!ctx.ops.retention) return { title: 'Retention', cli, body: notAvailable('Retention', cli) };
  const policy = ctx.ops.retention.policy;
  const runs = (await ctx.ops.retention.runs({ limit: 20 })) as RunRow[];
  const wantPreview = ctx.query.get('preview') === '1' && policy?.enabled;
  const preview = wantPreview
    ? ((await ctx.ops.retention.purge({ dryRun: true })) as Record<string, unknown>)
    : null;
  return {
    title: 'Retention',
    cli,
    body: html`${message ? html`<p class="notice" role="status">${message}</p>` : ''}
<h2>Policy</h2>
${
  policy
    ? html`<p>${policy.enabled ? 'Enabled' : 'Disabled'}: changes older than <strong>${days(policy.windowSeconds)}</strong> are purged, ${String(policy.batchSize)} per batch${policy.deleteEmptyTransactions ? ', with the transactions and actions they leave empty' : ''}.</p>`
    : html`<p>No retention policy is configured: audit data is kept for ever. Set <code>retention: { enabled: true, keepDays: 365 }</code>.</p>`
}
${policy?.enabled ? html`<p><a href="${ctx.link('/retention', { preview: '1' })}">Preview what a purge would remove (dry run)</a></p>` : ''}
${preview ? html`<p class="notice" role="status">A purge now would delete ${Number(preview.deletedChanges).toLocaleString('en-US')} changes and ${Number(preview.deletedTransactions).toLocaleString('en-US')} transactions captured before ${String(preview.cutoff)}.</p>` : ''}
${
  policy?.enabled && ctx.grant.canPrune
    ? html`<form method="post" action="${ctx.link('/retention/purge')}" class="danger" aria-label="Purge expired audit data">
<input type="hidden" name="csrf" value="${ctx.csrfToken}">
<label for="confirm">Type <kbd>${PRUNE_CONFIRMATION}</kbd> to purge audit data older than the retention window</label>
<input id="confirm" name="confirm" autocomplete="off" required>
<button type="submit">Purge now</button></form>`
    : policy?.enabled
      ? html`<p class="meta">Purging needs <code>canPrune</code> in your grant.</p>`
      : ''
}
<h2>Runs</h2>
${
  runs.length === 0
    ? html`<p class="empty">No retention runs yet.</p>`
    : html`<table class="runs"><thead><tr><th scope="col">Run</th><th scope="col">Started (UTC)</th><th scope="col">Status</th><th scope="col">Dry run</th><th scope="col">Cutoff</th><th scope="col">Changes</th><th scope="col">Transactions</th><th scope="col">By</th><th scope="col">Error</th></tr></thead><tbody>
${runs.map(
  (r) =>
    html`<tr><td>#${r.id}</td><td>${r.startedAt}</td><td>${r.status}</td><td>${r.dryRun ? 'yes' : 'no'}</td><td>${r.cutoff}</td><td>${r.deletedChanges.toLocaleString('en-US')}</td><td>${r.deletedTransactions.toLocaleString('en-US')}</td><td>${r.actor ? actorText(r.actor as never) : ''}</td><td>${r.error ? value(r.error, 200) : ''}</td></tr>`,
)}
</tbody></table>`
}`,
  };
}
