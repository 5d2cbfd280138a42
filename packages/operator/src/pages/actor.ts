import { ThreadlineError } from '@threadline/core';
import { changesTable } from '../html/changes.js';
import { html } from '../html/escape.js';
import { cliCommand } from '../html/shell-quote.js';
import type { PageContext, PageResult } from '../page-context.js';

export async function actorPage(ctx: PageContext): Promise<PageResult> {
  const actor = ctx.query.get('actor')?.trim() ?? '';
  const from = ctx.query.get('from')?.trim() || undefined;
  const to = ctx.query.get('to')?.trim() || undefined;
  const cursor = ctx.query.get('cursor') || null;
  if (!actor) throw new ThreadlineError('QUERY_INVALID', 'actor: give ?actor=type:id, e.g. ?actor=user:42');
  const page = await ctx.tl.actorHistory(actor, { from, to, cursor, pageSize: 50 });
  return {
    title: `Actor ${actor}`,
    cli: cliCommand(['threadline timeline', ['--actor', actor], ['--from', from], ['--to', to]]),
    body: html`<form method="get" action="${ctx.link('/actor')}" class="filters" aria-label="Actor window">
<div class="field"><label for="a-actor">Actor</label><input id="a-actor" name="actor" value="${actor}" required></div>
<div class="field"><label for="a-from">From</label><input id="a-from" name="from" value="${from ?? ''}"></div>
<div class="field"><label for="a-to">To</label><input id="a-to" name="to" value="${to ?? ''}"></div>
<div class="actions"><button type="submit">Show</button></div>
</form>
${changesTable(ctx, page.entries, `Changes by ${actor}, newest first`)}
<nav class="pager" aria-label="Pages">
${page.hasMore && page.cursor ? html`<a rel="next" href="${ctx.link('/actor', { actor, from, to, cursor: page.cursor })}">Older changes</a>` : html`<span class="end">End of results</span>`}
</nav>`,
  };
}
