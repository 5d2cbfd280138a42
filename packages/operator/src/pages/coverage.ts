import { value } from '../html/changes.js';
import { type Html, html } from '../html/escape.js';
import type { CoverageReport } from '../operations.js';
import type { PageContext, PageResult } from '../page-context.js';
import { notAvailable, notGranted } from './unavailable.js';

/**
 * Table names separated by commas: a name may hold spaces ("Order Lines"), so names side by side
 * with only a space between them read as other names.
 */
function tableList(items: Html[]): Html {
  if (!items.length) return html`<span class="none">none</span>`;
  return html`${items.map((item, i) => html`${i ? ', ' : ''}${item}`)}`;
}

export async function coveragePage(ctx: PageContext): Promise<PageResult> {
  const cli = 'threadline health coverage';
  if (!ctx.ops.health) return { title: 'Coverage', cli, body: notAvailable('Coverage health', cli) };
  if (!ctx.grant.canSeeCoverage)
    return { title: 'Coverage', cli, body: notGranted('coverage', 'canSeeCoverage') };
  const report = await ctx.ops.health.coverage();
  return {
    title: 'Coverage',
    cli,
    body: html`<p class="meta">Checked ${report.checkedAt ?? 'now'}; the header pill re-checks every ${String(ctx.pollSeconds)} s.</p>
${report.readReplica ? html`<p class="meta" id="read-replica">${replicaText(report.readReplica)}</p>` : ''}
${report.schemas.map(
  (s) => html`<section aria-label="Schema ${s.schema}"><h2>Schema ${value(s.schema, 63)}</h2>
<table class="coverage"><thead><tr><th scope="col">State</th><th scope="col">Tables</th></tr></thead><tbody>
<tr><th scope="row">Uncovered</th><td>${tableList(s.uncovered.map((t) => html`<code>${value(t, 63)}</code>`))}</td></tr>
<tr><th scope="row">Covered</th><td>${tableList(s.covered.map((t) => html`<code>${value(t, 63)}</code>`))}</td></tr>
<tr><th scope="row">Expected uncovered</th><td>${tableList(s.expectedUncovered.map((t) => html`<code>${value(t.table, 63)}</code> (${t.source})`))}</td></tr>
</tbody></table></section>`,
)}
<h2>Findings (${String(report.findings.length)})</h2>
${
  report.findings.length === 0
    ? html`<p class="empty">No findings.</p>`
    : html`<table class="findings"><thead><tr><th scope="col">Severity</th><th scope="col">Code</th><th scope="col">Table</th><th scope="col">What</th><th scope="col">Fix</th></tr></thead><tbody>
${report.findings.map(
  (f) =>
    html`<tr><td><span class="sev sev-${f.severity}">${f.severity}</span></td><td><code>${f.code}</code></td><td>${value(`${f.schema}.${f.table}`, 130)}</td><td>${value(f.message, 400)}</td><td><code>${value(f.fix, 400)}</code></td></tr>`,
)}
</tbody></table>`
}`,
  };
}

/** Where the coverage above was read: the read replica, and how far behind the primary it was. */
function replicaText(r: NonNullable<CoverageReport['readReplica']>): string {
  if (!r.inRecovery)
    return 'Read from the read database, which is not a streaming replica (replica lag not measured).';
  if (r.lagBytes === 0) return 'Read from the read replica: caught up with the primary.';
  const seconds = r.lagSeconds === null ? 'an unknown time' : `${r.lagSeconds.toFixed(1)} s`;
  return `Read from the read replica: ${seconds} behind the primary (${String(r.lagBytes ?? '?')} bytes of WAL not replayed)${r.replayPaused ? '; replay is paused' : ''}.`;
}
