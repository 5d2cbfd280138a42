import type { PageContext, PageResult } from '../page-context.js';
import { type Html, html } from './escape.js';

const NAV: [path: string, label: string][] = [
  ['/', 'Home'],
  ['/timeline', 'Timeline'],
  ['/row', 'Row history'],
  ['/coverage', 'Coverage'],
  ['/integrity', 'Integrity'],
  ['/policy', 'Redaction policy'],
  ['/retention', 'Retention'],
  ['/exports', 'Exports'],
];

/** The page shell: skip link, header with the coverage pill, navigation, main, CLI twin, theme. */
export function layout(ctx: PageContext, page: PageResult): Html {
  const themeAttr = ctx.theme === 'system' ? null : ctx.theme;
  return html`<!doctype html>
<html lang="en"${themeAttr ? html` data-theme="${themeAttr}"` : ''}>
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${page.title} · Threadline</title>
<link rel="stylesheet" href="${ctx.link('/assets/app.css')}">
<script src="${ctx.link('/assets/app.js')}" defer></script>
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
  <a class="brand" href="${ctx.link('/')}">Threadline</a>
  ${pill(ctx)}
  <nav aria-label="Sections"><ul>
  ${NAV.map(
    ([path, label]) =>
      html`<li><a href="${ctx.link(path)}"${ctx.route === path ? html` aria-current="page"` : ''}>${label}</a></li>`,
  )}
  </ul></nav>
  <span class="who">Signed in as <code>${actorLabel(ctx)}</code></span>
</header>
<main id="main" tabindex="-1">
<h1>${page.title}</h1>
${page.body}
${page.cli ? html`<section class="cli" aria-label="Command line equivalent"><h2>Same in the CLI</h2><p><code class="copyable">${page.cli}</code> <button type="button" class="copy" data-copy="${page.cli}">Copy</button></p></section>` : ''}
</main>
<footer>
<form method="post" action="${ctx.link('/theme')}" class="theme">
<input type="hidden" name="csrf" value="${ctx.csrfToken}">
<label for="theme-select">Theme</label>
<select id="theme-select" name="theme">
${(['system', 'light', 'dark'] as const).map((t) => html`<option value="${t}"${ctx.theme === t ? html` selected` : ''}>${t}</option>`)}
</select>
<button type="submit">Apply</button>
</form>
</footer>
</body>
</html>`;
}

function actorLabel(ctx: PageContext): string {
  const a = ctx.grant.actor;
  return a.type === 'anonymous' ? 'anonymous' : `${a.type}:${a.id}`;
}

/** "All covered" / "N uncovered", refreshed by the page script from the JSON API. */
function pill(ctx: PageContext): Html {
  if (!ctx.coverage) return html``;
  const { uncovered } = ctx.coverage;
  const text =
    uncovered === null ? 'Coverage unknown' : uncovered === 0 ? 'All covered' : `${uncovered} uncovered`;
  const state = uncovered === null ? 'unknown' : uncovered === 0 ? 'ok' : 'bad';
  return html`<a class="pill pill-${state}" id="coverage-pill" href="${ctx.link('/coverage')}" data-src="${ctx.link('/api/coverage/summary')}" data-poll="${String(ctx.pollSeconds)}" aria-live="polite">${text}</a>`;
}
