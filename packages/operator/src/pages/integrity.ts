import type { IntegrityStatus } from '@threadline/core';
import { value } from '../html/changes.js';
import { type Html, html } from '../html/escape.js';
import type { PageContext, PageResult } from '../page-context.js';
import { notAvailable, notGranted } from './unavailable.js';

const CLI = 'threadline verify-integrity';

function verificationState(v: NonNullable<IntegrityStatus['lastVerification']>): Html {
  const label =
    { ok: 'OK', failed: 'Tampering found', error: 'Could not run', running: 'Running' }[v.status] ??
    'Unknown';
  const cls = v.status === 'ok' ? 'ok' : v.status === 'running' ? 'warning' : 'error';
  return html`<span class="sev sev-${cls}">${label}</span>`;
}

/** One line for the home page: the newest seal and verification, linking to the integrity page. */
export function integritySummary(ctx: PageContext, status: IntegrityStatus): Html {
  const seal = status.lastSeal;
  const v = status.lastVerification;
  return html`<section class="card" aria-label="Tamper evidence"><h2>Tamper evidence</h2>
<p>${seal ? html`Last seal #${value(seal.id, 20)} at ${value(seal.sealedAt, 40)}.` : html`Nothing sealed yet (<code>threadline seal</code>).`}
${v ? html`Last verification: ${verificationState(v)} at ${value(v.finishedAt ?? v.startedAt, 40)}.` : html`Never verified.`}</p>
<p><a href="${ctx.link('/integrity')}">Seals and verifications</a></p></section>`;
}

/** Only the grant that sees coverage sees integrity state: both are health information. */
export async function integrityStatusFor(ctx: PageContext): Promise<IntegrityStatus | null> {
  if (!ctx.ops.integrity || !ctx.grant.canSeeCoverage) return null;
  return ctx.ops.integrity.status().catch(() => null);
}

export async function integrityPage(ctx: PageContext): Promise<PageResult> {
  if (!ctx.ops.integrity) return { title: 'Integrity', cli: CLI, body: notAvailable('Tamper evidence', CLI) };
  if (!ctx.grant.canSeeCoverage)
    return { title: 'Integrity', cli: CLI, body: notGranted('integrity state', 'canSeeCoverage') };
  const status = await ctx.ops.integrity.status();
  const seal = status.lastSeal;
  const v = status.lastVerification;
  const counts = v ? Object.entries(v.counts).filter(([, n]) => Number(n) > 0) : [];
  return {
    title: 'Integrity',
    cli: CLI,
    body: html`<p class="meta">Audit rows are sealed into a hash chain (<code>threadline seal</code>); a verification recomputes it and names every altered, inserted or removed row.</p>
<section aria-label="Last seal"><h2>Last seal</h2>
${
  seal
    ? html`<table class="coverage"><tbody>
<tr><th scope="row">Seal</th><td>#${value(seal.id, 20)}</td></tr>
<tr><th scope="row">Sealed at</th><td>${value(seal.sealedAt, 40)}</td></tr>
<tr><th scope="row">Sealed through</th><td>audit_changes id ${value(seal.sealedThrough.audit_changes, 20)}, audit_transactions id ${value(seal.sealedThrough.audit_transactions, 20)}</td></tr>
<tr><th scope="row">Chain head</th><td><code>${value(seal.hash, 64)}</code></td></tr>
</tbody></table>`
    : html`<p class="empty">Nothing sealed yet. Run <code>threadline seal</code> or schedule <code>tl.integrity.schedule({ every: '1h' })</code>.</p>`
}</section>
<section aria-label="Last verification"><h2>Last verification</h2>
${
  v
    ? html`<table class="coverage"><tbody>
<tr><th scope="row">Status</th><td>${verificationState(v)}</td></tr>
<tr><th scope="row">Started</th><td>${value(v.startedAt, 40)}</td></tr>
<tr><th scope="row">Finished</th><td>${v.finishedAt ? value(v.finishedAt, 40) : html`<span class="none">not yet</span>`}</td></tr>
<tr><th scope="row">Window</th><td>${v.from || v.to ? html`${value(v.from ?? 'start', 40)} to ${value(v.to ?? 'now', 40)}` : 'every sealed row'}</td></tr>
<tr><th scope="row">Checked</th><td>${value(String(v.sealsChecked), 20)} seals, ${value(String(v.rowsChecked), 20)} rows</td></tr>
<tr><th scope="row">Findings</th><td>${counts.length ? counts.map(([kind, n]) => html`<code>${value(kind, 40)}</code> ${value(String(n), 20)} `) : html`<span class="none">none</span>`}</td></tr>
</tbody></table>
<p>Run <code>${CLI}</code> for the list of rows it names.</p>`
    : html`<p class="empty">Never verified. Run <code>${CLI}</code>.</p>`
}</section>`,
  };
}
