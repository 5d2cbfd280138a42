import { type AuditActionInfo, type IncidentBundle, ThreadlineError } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import type { Output } from '../output.js';
import { actorText, changeKey, fieldText, safe, tableText, value } from '../render-changes.js';
import type { Command } from './command.js';

export const incidentCommand: Command = {
  path: ['incident'],
  summary: 'one audit transaction: who, why (context ids, actions) and every change with its diff',
  usage: 'threadline incident <transaction-id> [--json]',
  positionals: [{ name: 'transaction-id' }],
  options: {},
  details: [
    'The id is the audit transaction id (transactionId / tx in history and timeline output).',
    'Exit 1 when there is no audit transaction with this id (never captured, or purged by retention).',
  ].join('\n'),
  async run(ctx) {
    const id = ctx.positionals[0]!;
    const tl = await ctx.threadline();
    const bundle = await tl.auditTransaction(id);
    if (!bundle) {
      throw new ThreadlineError(
        'NOT_FOUND',
        `no audit transaction with id ${safe(id.trim(), 40)}: it was never captured, or retention purged it`,
      );
    }
    if (ctx.json) {
      ctx.out.json(bundle);
      return ExitCode.ok;
    }
    printBundle(ctx.out, bundle);
    return ExitCode.ok;
  },
};

function printBundle(out: Output, bundle: IncidentBundle): void {
  const t = bundle.transaction;
  const fields: [string, string | null][] = [
    ['time', t.occurredAt],
    ['actor', actorText(t.actor)],
    ['correlation id', t.correlationId],
    ['request id', t.requestId],
    ['job id', t.jobId],
    ['causation id', t.causationId],
    ['source', t.source],
    ['txid', t.txid],
    ['meta', t.meta ? JSON.stringify(t.meta) : null],
  ];
  out.line(`audit transaction ${t.id}`);
  for (const [label, text] of fields) out.line(`  ${label.padEnd(16)}${text === null ? '-' : safe(text)}`);
  for (const r of bundle.revertedBy ?? [])
    out.line(
      `  ${'reverted by'.padEnd(16)}${safe(actorText(r.actor))} at ${r.at} (audit transaction ${r.auditTransactionId})`,
    );
  out.line();
  if (bundle.actions.length === 0) out.line('actions: none recorded in this transaction');
  else {
    out.line(`actions (${bundle.actions.length}):`);
    for (const action of bundle.actions) out.line(`  ${actionText(action, action.id === t.actionId)}`);
  }
  out.line();
  if (bundle.changes.length === 0) {
    out.line('changes: none (the transaction recorded an action but changed no audited row)');
    return;
  }
  out.line(`changes (${bundle.changes.length}, in capture order):`);
  for (const { change, diff } of bundle.changes) {
    out.line();
    const key = change.op === 'truncate' ? '' : ` ${safe(changeKey(change))}`;
    out.line(
      `  ${change.op} ${safe(tableText(change))}${key}  at ${change.capturedAt}  (change ${change.id})`,
    );
    if (change.op === 'truncate') {
      const partition = change.dataBefore?.partition;
      out.line(
        `    ${typeof partition === 'string' ? `partition ${safe(partition)}` : 'whole table'} truncated`,
      );
      continue;
    }
    if (change.op === 'update' && !diff.beforeKnown)
      out.line('    (old values are not stored for this table: changedFrom is off)');
    if (change.op === 'delete' && !diff.beforeKnown)
      out.line('    (no delete snapshot stored for this table: only the key is known)');
    for (const f of diff.fields) out.line(`    ${fieldText(diff, f)}`);
  }
}

function actionText(a: AuditActionInfo, linked: boolean): string {
  const parts = [
    `${safe(a.name)} (${a.status}) by ${safe(actorText(a.actor))} at ${a.insertedAt}`,
    a.verb ? `verb ${value(a.verb)}` : null,
    a.category ? `category ${value(a.category)}` : null,
    a.reason ? `reason ${value(a.reason)}` : null,
    a.comment ? `comment ${value(a.comment)}` : null,
    a.correlationId ? `correlation id ${safe(a.correlationId)}` : null,
    a.requestId ? `request id ${safe(a.requestId)}` : null,
    a.jobId ? `job id ${safe(a.jobId)}` : null,
    linked ? 'linked to this transaction' : null,
  ];
  return parts.filter((p) => p !== null).join('; ');
}
