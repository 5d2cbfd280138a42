import { type Html, html } from '../html/escape.js';

/** The honest state of a page whose operation this version of @threadline/core does not have. */
export function notAvailable(what: string, cli: string): Html {
  return html`<div class="notice" role="status"><p><strong>${what} is not available in this version</strong> of @threadline/core.</p>
<p>Upgrade @threadline/core to a version with it; the CLI twin is <code>${cli}</code>.</p></div>`;
}

export function notGranted(what: string, grant: string): Html {
  return html`<div class="notice" role="status"><p>Your access does not include ${what}.</p>
<p>Ask whoever configured the surface's <code>authorize</code> callback to add <code>${grant}: true</code> to your grant.</p></div>`;
}
