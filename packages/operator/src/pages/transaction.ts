import { ThreadlineError } from '@threadline/core';
import { actorText, diffTable, keyParam, keyText, tableText, value } from '../html/changes.js';
import { html } from '../html/escape.js';
import { cliCommand } from '../html/shell-quote.js';
import type { PageContext, PageResult } from '../page-context.js';

const CHANGE_LIMIT = 500;

export async function transactionPage(ctx: PageContext): Promise<PageResult> {
  const id = ctx.query.get('id')?.trim() ?? '';
  if (!/^[1-9][0-9]{0,18}$/.test(id)) {
    throw new ThreadlineError(
      'QUERY_INVALID',
      'transaction: id must be a positive audit transaction number, e.g. ?id=42',
    );
  }
  const bundle = await ctx.tl.auditTransaction(id, { changeLimit: CHANGE_LIMIT });
  if (!bundle) throw new ThreadlineError('NOT_FOUND', `No audit transaction #${id}.`);
  const t = bundle.transaction;
  const facts: [string, unknown][] = [
    ['Occurred (UTC)', t.occurredAt],
    ['Actor', t.actor ? actorText(t.actor) : 'none'],
    ['Correlation id', t.correlationId],
    ['Request id', t.requestId],
    ['Job id', t.jobId],
    ['Caused by', t.causationId],
    ['Source', t.source],
    ['Database txid', t.txid],
  ];
  return {
    title: `Transaction #${t.id}`,
    cli: cliCommand(['threadline incident', t.id]),
    body: html`<dl class="facts">
${facts.map(([k, v]) => html`<dt>${k}</dt><dd>${v === null || v === undefined ? html`<span class="none">—</span>` : value(v, 300)}</dd>`)}
</dl>
${
  bundle.actions.length > 0
    ? html`<h2>Actions</h2><ul class="actions">${bundle.actions.map(
        (a) =>
          html`<li><strong>${value(a.name, 200)}</strong> by <code>${actorText(a.actor)}</code> (${a.status})${a.reason ? html` — ${value(a.reason, 300)}` : ''}</li>`,
      )}</ul>`
    : ''
}
<h2>Changes (${String(bundle.changes.length)})</h2>
${bundle.changes.length >= CHANGE_LIMIT ? html`<p class="warn">Showing the first ${String(CHANGE_LIMIT)} changes. Use <code>threadline incident ${t.id} --json</code> or an export for all of them.</p>` : ''}
${bundle.changes.map(
  ({
    change: c,
    diff,
  }) => html`<section class="change" aria-label="${c.op} ${tableText(c)} ${keyText(c.tablePk)}">
<h3><span class="op op-${c.op}">${c.op}</span> ${tableText(c)} ${c.op === 'truncate' ? '' : html`<a href="${ctx.link('/row', { table: `${c.tableSchema}.${c.tableName}`, pk: keyParam(c.tablePk) })}">${keyText(c.tablePk)}</a>`}</h3>
${diffTable(diff)}
</section>`,
)}`,
  };
}
