import { isThreadlineError } from '@threadline/core';
import { type Html, html, raw } from '../html/escape.js';
import type { PageContext } from '../page-context.js';

const WIDTH = 480;
const HEIGHT = 80;

interface ActivityResult {
  bucket: string;
  from: string;
  to: string;
  buckets: { start: string; changes: number; transactions: number }[];
}

type ActivityFn = (filters: Record<string, unknown>) => Promise<ActivityResult>;

/** The bucket sizes core offers; a URL's `bucket` is passed to core, which validates it. */
const SIZES = ['minute', 'hour', 'day', 'week', 'month'] as const;

/** `tl.activity` when this core version has it. */
export function activityOf(ctx: PageContext): ActivityFn | null {
  const fn = (ctx.tl as unknown as { activity?: ActivityFn }).activity;
  return typeof fn === 'function' ? (filters) => fn.call(ctx.tl, filters) : null;
}

/** The timeline filters plus the URL's bucket (left to core to validate). */
export function activityFilters(ctx: PageContext, filters: Record<string, unknown>): Record<string, unknown> {
  const bucket = ctx.query.get('bucket')?.trim();
  return bucket ? { ...filters, bucket } : filters;
}

/**
 * Changes over the filtered window as an inline SVG bar chart, drawn on the server (no chart
 * library in the browser), with the same counts as a table for screen readers and keyboards.
 * Drawn on every timeline page (core counts whole hours from its rollup, so the cost no longer grows
 * with the changes in the window); without a bucket in the URL, core chooses one from the window.
 * Nothing is drawn when this core version has no `tl.activity`.
 */
export async function activityChart(
  ctx: PageContext,
  filters: Record<string, unknown>,
  links: (bucket: string) => string,
): Promise<Html> {
  const activity = activityOf(ctx);
  if (!activity) return html``;
  const chosen = Boolean(ctx.query.get('bucket')?.trim());
  let result: ActivityResult;
  try {
    result = await activity(activityFilters(ctx, filters));
  } catch (error) {
    // The chart is drawn by default: a window it cannot draw (more than 1000 buckets) must not
    // take the timeline list down with it. A bucket the URL asks for is still a 400 naming the fix.
    if (chosen || !isThreadlineError(error) || error.code !== 'QUERY_INVALID') throw error;
    return html`<p class="activity buckets" role="note">No activity chart for this window: ${error.message}</p>`;
  }
  return html`<section class="activity" aria-labelledby="activity-title">
<h2 id="activity-title">Activity</h2>
${svgBars(result)}
<p class="buckets">Bucket: ${SIZES.map((size, i) =>
    size === result.bucket
      ? html`${i ? ' · ' : ''}<strong aria-current="true">${size}</strong>`
      : html`${i ? ' · ' : ''}<a href="${links(size)}">${size}</a>`,
  )}</p>
<details><summary>Activity as a table</summary>
<table><caption>Changes and transactions per ${result.bucket} (UTC)</caption>
<thead><tr><th scope="col">${result.bucket} starting</th><th scope="col">Changes</th><th scope="col">Transactions</th></tr></thead>
<tbody>${result.buckets.map(
    (b) =>
      html`<tr><td><time datetime="${b.start}">${b.start}</time></td><td>${b.changes.toLocaleString('en-US')}</td><td>${b.transactions.toLocaleString('en-US')}</td></tr>`,
  )}</tbody></table></details>
</section>`;
}

function svgBars(result: ActivityResult): Html {
  const counts = result.buckets.map((b) => b.changes);
  const max = Math.max(1, ...counts);
  const w = WIDTH / Math.max(1, counts.length);
  const total = counts.reduce((a, b) => a + b, 0);
  const bars = result.buckets
    .map((b, i) => {
      const h = Math.round((b.changes / max) * (HEIGHT - 4));
      // Only numbers and core's ISO timestamps go into the SVG; the text is escaped all the same.
      return `<rect x="${(i * w + 1).toFixed(1)}" y="${HEIGHT - h}" width="${Math.max(0.5, w - 2).toFixed(1)}" height="${h}"><title>${escapeText(b.start)}: ${b.changes}</title></rect>`;
    })
    .join('');
  return html`<figure class="chart">
<svg role="img" aria-labelledby="activity-label" viewBox="0 0 ${String(WIDTH)} ${String(HEIGHT)}" width="${String(WIDTH)}" height="${String(HEIGHT)}" preserveAspectRatio="none">${raw(bars)}</svg>
<figcaption id="activity-label">${total.toLocaleString('en-US')} changes from ${result.from} to ${result.to}, per ${result.bucket} (${String(counts.length)} bars, tallest: ${max.toLocaleString('en-US')})</figcaption>
</figure>`;
}

function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
