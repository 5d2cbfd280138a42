import { type Html, html } from '../html/escape.js';
import type { PageContext } from '../page-context.js';

/** The timeline filters a URL may carry (SPEC section 5), in the order the form shows them. */
const FILTER_FIELDS = [
  ['table', 'Table', 'posts or billing.invoices'],
  ['actor', 'Actor', 'user:42, or none'],
  ['from', 'From (ISO 8601)', '2026-12-01T00:00:00Z'],
  ['to', 'To (ISO 8601)', '2026-12-02T00:00:00Z'],
  ['correlationId', 'Correlation id', ''],
  ['requestId', 'Request id', ''],
  ['jobId', 'Job id', ''],
] as const;

export type FilterField = (typeof FILTER_FIELDS)[number][0];

/** Filters from the URL, as strings (blank ones left out). */
export function filtersFromQuery(query: URLSearchParams): Partial<Record<FilterField, string>> {
  const out: Partial<Record<FilterField, string>> = {};
  for (const [key] of FILTER_FIELDS) {
    const v = query.get(key)?.trim();
    if (v) out[key] = v;
  }
  return out;
}

/** URL filters to the core API's timeline filters (`actor: none` means changes with no actor). */
export function toTimelineFilters(f: Partial<Record<FilterField, string>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // As given: core reads "schema.name" (and a quoted name with a dot) itself.
  if (f.table) out.table = f.table;
  if (f.actor) out.actor = f.actor === 'none' ? null : f.actor;
  for (const key of ['from', 'to', 'correlationId', 'requestId', 'jobId'] as const)
    if (f[key]) out[key] = f[key];
  return out;
}

export function filterForm(ctx: PageContext, action: string, f: Partial<Record<FilterField, string>>): Html {
  return html`<form method="get" action="${ctx.link(action)}" class="filters" role="search" aria-label="Filter changes">
${FILTER_FIELDS.map(
  ([key, label, hint]) => html`<div class="field"><label for="f-${key}">${label}</label>
<input id="f-${key}" name="${key}" value="${f[key] ?? ''}"${hint ? html` placeholder="${hint}"` : ''} autocomplete="off"></div>`,
)}
<div class="actions"><button type="submit">Apply filters</button> <a href="${ctx.link(action)}">Clear</a></div>
</form>`;
}
