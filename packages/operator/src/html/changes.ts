import type { AuditChange, ChangeDiff } from '@threadline/core';
import type { PageContext } from '../page-context.js';
import { type Html, html } from './escape.js';
import { displayValue } from './text.js';

/** One value from audit data, clipped and with invisible characters made visible. */
export function value(v: unknown, max = 120): Html {
  const { text, clipped } = displayValue(v, max);
  return clipped > 0
    ? html`<span class="val" title="${displayValue(v, 2000).text}">${text}</span> <span class="more">(+${clipped} chars)</span>`
    : html`<span class="val">${text}</span>`;
}

export function actorText(actor: AuditChange['actor']): string {
  if (!actor) return 'none';
  return actor.type === 'anonymous' ? 'anonymous' : `${actor.type}:${actor.id}`;
}

export function keyText(pk: Record<string, unknown>): string {
  const keys = Object.keys(pk);
  if (keys.length === 1) return displayValue(pk[keys[0]!], 80).text;
  return displayValue(pk, 80).text;
}

/** The key as the row page's `pk` parameter: the scalar as text, a composite key as JSON. */
export function keyParam(pk: Record<string, unknown>): string {
  const keys = Object.keys(pk);
  return keys.length === 1 ? String(pk[keys[0]!]) : JSON.stringify(pk);
}

export function tableText(c: { tableSchema: string; tableName: string }): string {
  return c.tableSchema === 'public' ? c.tableName : `${c.tableSchema}.${c.tableName}`;
}

/** The timeline table: one row per change, linking to its transaction and its row's history. */
export function changesTable(ctx: PageContext, entries: AuditChange[], caption: string): Html {
  if (entries.length === 0) return html`<p class="empty">No changes match.</p>`;
  return html`<table class="changes">
<caption>${caption}</caption>
<thead><tr><th scope="col">Captured (UTC)</th><th scope="col">Table</th><th scope="col">Key</th><th scope="col">Op</th><th scope="col">Actor</th><th scope="col">Correlation</th><th scope="col">Transaction</th></tr></thead>
<tbody>
${entries.map(
  (c) => html`<tr>
<td><time datetime="${c.capturedAt}">${c.capturedAt.replace('T', ' ').replace('Z', '')}</time></td>
<td>${tableText(c)}</td>
<td>${c.op === 'truncate' ? '(all rows)' : html`<a href="${ctx.link('/row', { table: `${c.tableSchema}.${c.tableName}`, pk: keyParam(c.tablePk) })}">${keyText(c.tablePk)}</a>`}</td>
<td><span class="op op-${c.op}">${c.op}</span></td>
<td>${c.actor ? html`<a href="${ctx.link('/actor', { actor: actorText(c.actor) })}">${displayValue(actorText(c.actor), 60).text}</a>` : html`<span class="none">none</span>`}</td>
<td>${c.correlationId ? html`<a href="${ctx.link('/timeline', { correlationId: c.correlationId })}">${displayValue(c.correlationId, 40).text}</a>` : ''}</td>
<td><a href="${ctx.link('/transaction', { id: c.transactionId })}">#${c.transactionId}</a></td>
</tr>`,
)}
</tbody></table>`;
}

/** Field-level before/after of one change. */
export function diffTable(diff: ChangeDiff): Html {
  if (diff.fields.length === 0) return html`<p class="empty">No field values stored for this change.</p>`;
  return html`<table class="diff">
<thead><tr><th scope="col">Field</th><th scope="col">Before</th><th scope="col">After</th></tr></thead>
<tbody>
${diff.fields.map(
  (f) => html`<tr${f.redacted ? html` class="redacted"` : ''}>
<th scope="row">${displayValue(f.field, 63).text}${f.redacted ? html` <span class="badge">redacted</span>` : ''}</th>
<td>${'before' in f ? value(f.before) : html`<span class="none">${diff.beforeKnown ? '—' : 'not stored'}</span>`}</td>
<td>${'after' in f ? value(f.after) : html`<span class="none">—</span>`}</td>
</tr>`,
)}
</tbody></table>`;
}
