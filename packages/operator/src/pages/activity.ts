import { type Html, html, raw } from '../html/escape.js';
import type { PageContext } from '../page-context.js';

const BUCKETS = 24;
const WIDTH = 480;
const HEIGHT = 80;

/**
 * Changes over the filtered window as an inline SVG bar chart, drawn on the server (no chart
 * library in the browser). Counts come from the database (`tl.activity`) when this core version
 * has it; otherwise no chart is drawn.
 */
export async function activityChart(ctx: PageContext, filters: Record<string, unknown>): Promise<Html> {
  const activity = (ctx.tl as unknown as { activity?: ActivityFn }).activity;
  if (typeof activity !== 'function') return html``;
  const result = await activity.call(ctx.tl, filters, { buckets: BUCKETS });
  return svgBars(result);
}

type ActivityFn = (
  filters: unknown,
  options: { buckets: number },
) => Promise<{ from: string; to: string; counts: number[] }>;

export function svgBars(result: { from: string; to: string; counts: number[] }): Html {
  const max = Math.max(1, ...result.counts);
  const w = WIDTH / Math.max(1, result.counts.length);
  const total = result.counts.reduce((a, b) => a + b, 0);
  const bars = result.counts
    .map((n, i) => {
      const h = Math.round((n / max) * (HEIGHT - 4));
      return `<rect x="${(i * w + 1).toFixed(1)}" y="${HEIGHT - h}" width="${(w - 2).toFixed(1)}" height="${h}"><title>${n}</title></rect>`;
    })
    .join('');
  return html`<figure class="activity">
<svg role="img" aria-labelledby="activity-label" viewBox="0 0 ${String(WIDTH)} ${String(HEIGHT)}" width="${String(WIDTH)}" height="${String(HEIGHT)}" preserveAspectRatio="none">${raw(bars)}</svg>
<figcaption id="activity-label">${total.toLocaleString('en-US')} changes from ${result.from} to ${result.to}, in ${String(result.counts.length)} intervals (tallest: ${max.toLocaleString('en-US')})</figcaption>
</figure>`;
}
