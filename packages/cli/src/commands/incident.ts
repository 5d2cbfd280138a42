import {
  type AuditActionInfo,
  type AuditTransactionInfo,
  type IncidentBundle,
  type Threadline,
  ThreadlineError,
} from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import { jsonText, type Output } from '../output.js';
import { actorText, changeKey, fieldText, safe, tableText, value } from '../render-changes.js';
import type { Command, CommandContext } from './command.js';

/** Changes read per round trip; the bundle is printed as it arrives, never held whole. */
const CHANGES_PER_READ = 5000;

type ChangeEntry = IncidentBundle['changes'][number];

export const incidentCommand: Command = {
  path: ['incident'],
  summary:
    'one audit transaction, or every transaction of a request or job: who, why (context ids, actions) and every change with its diff',
  usage: 'threadline incident (<transaction-id> | --request-id ID | --job-id ID) [--json]',
  positionals: [{ name: 'transaction-id', optional: true }],
  options: {
    'request-id': {
      type: 'string',
      value: 'ID',
      description:
        'every audit transaction of this request, oldest first (an app that does not wrap a request in one transaction makes several)',
    },
    'job-id': {
      type: 'string',
      value: 'ID',
      description: 'every audit transaction of this job, oldest first',
    },
  },
  details: [
    'The id is the audit transaction id (transactionId / tx in history and timeline output).',
    'Every change is printed, however many there are (read 5000 at a time).',
    'Exit 1 when there is no audit transaction with this id, or none carried the request or job id',
    '(never captured, or purged by retention).',
  ].join('\n'),
  async run(ctx) {
    const id = ctx.positionals[0];
    const requestId = ctx.flags['request-id'] as string | undefined;
    const jobId = ctx.flags['job-id'] as string | undefined;
    const given = [id, requestId, jobId].filter((v) => v !== undefined).length;
    if (given !== 1)
      throw ctx.usageError('give exactly one of <transaction-id>, --request-id ID, --job-id ID');
    const tl = await ctx.threadline();
    if (id !== undefined) {
      const bundle = await tl.auditTransaction(id, { changeLimit: CHANGES_PER_READ });
      if (!bundle) {
        throw new ThreadlineError(
          'NOT_FOUND',
          `no audit transaction with id ${safe(id.trim(), 40)}: it was never captured, or retention purged it`,
        );
      }
      if (ctx.json) await writeBundleJson(ctx.out, tl, bundle, '');
      else await printBundle(ctx, tl, bundle);
      ctx.out.raw(ctx.json ? '\n' : '');
      return ExitCode.ok;
    }
    return printTransactionsOf(ctx, tl, requestId !== undefined ? { requestId } : { jobId: jobId! });
  },
};

/** The bundle's changes, the ones it holds and then the rest, a read at a time. */
async function* allChanges(tl: Threadline, bundle: IncidentBundle): AsyncGenerator<ChangeEntry[]> {
  yield bundle.changes;
  let cursor = bundle.changeCursor;
  while (cursor) {
    const next = await tl.auditTransaction(bundle.transaction.id, {
      changeLimit: CHANGES_PER_READ,
      changeCursor: cursor,
    });
    if (!next) return; // purged while we read
    yield next.changes;
    cursor = next.changeCursor;
  }
}

const indent = (text: string, pad: string) => text.replace(/\n/g, `\n${pad}`);

/** The complete bundle as one JSON object (hasMoreChanges false), written as the changes arrive. */
async function writeBundleJson(out: Output, tl: Threadline, bundle: IncidentBundle, pad: string) {
  const field = (name: string, v: unknown) =>
    `${pad}  ${JSON.stringify(name)}: ${indent(jsonText(v), `${pad}  `)}`;
  out.raw(
    `{\n${[
      field('transaction', bundle.transaction),
      field('action', bundle.action),
      field('actions', bundle.actions),
    ].join(',\n')},\n${pad}  "changes": [`,
  );
  let first = true;
  let count = 0;
  for await (const changes of allChanges(tl, bundle)) {
    for (const entry of changes) {
      out.raw(`${first ? '' : ','}\n${pad}    ${indent(jsonText(entry), `${pad}    `)}`);
      first = false;
      count++;
    }
  }
  out.raw(
    `${first ? '' : `\n${pad}  `}],\n${[
      field('changeCount', Math.max(count, bundle.changeCount)),
      field('hasMoreChanges', false),
      field('changeCursor', null),
      field('revertedBy', bundle.revertedBy),
    ].join(',\n')}\n${pad}}`,
  );
}

async function printTransactionsOf(
  ctx: CommandContext,
  tl: Threadline,
  filter: { requestId: string } | { jobId: string },
): Promise<number> {
  const byRequest = 'requestId' in filter;
  const id = byRequest ? filter.requestId : filter.jobId;
  const label = `${byRequest ? 'request' : 'job'} ${id.trim()}`;
  let page = await tl.auditTransactions(filter, { pageSize: 100 });
  if (page.entries.length === 0) {
    throw new ThreadlineError(
      'NOT_FOUND',
      `no audit transaction carried ${safe(label)}: it wrote nothing audited, or retention purged it`,
    );
  }
  if (ctx.json) {
    const [key, other] = byRequest ? ['requestId', 'jobId'] : ['jobId', 'requestId'];
    ctx.out.raw(`{\n  "${key}": ${jsonText(id.trim())},\n  "${other}": null,\n  "transactions": [`);
  } else {
    ctx.out.line(`${safe(label)}: its audit transactions, oldest first`);
  }
  let shown = 0;
  for (;;) {
    for (const t of page.entries) {
      const bundle = await tl.auditTransaction(t.id, { changeLimit: CHANGES_PER_READ });
      if (!bundle) continue; // purged while we read
      if (ctx.json) {
        ctx.out.raw(`${shown === 0 ? '' : ','}\n    `);
        await writeBundleJson(ctx.out, tl, bundle, '    ');
      } else {
        ctx.out.line();
        if (shown > 0) ctx.out.line(`${'─'.repeat(60)}\n`);
        await printBundle(ctx, tl, bundle);
      }
      shown++;
    }
    if (!page.cursor) break;
    page = await tl.auditTransactions(filter, { pageSize: 100, cursor: page.cursor });
  }
  if (ctx.json) {
    ctx.out.raw(`${shown === 0 ? '' : '\n  '}]\n}\n`);
    return ExitCode.ok;
  }
  ctx.out.line();
  ctx.out.line(`${shown} audit transaction${shown === 1 ? '' : 's'} of ${safe(label)}`);
  return ExitCode.ok;
}

function transactionLines(t: AuditTransactionInfo): string[] {
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
  return [
    `audit transaction ${t.id}`,
    ...fields.map(([label, text]) => `  ${label.padEnd(16)}${text === null ? '-' : safe(text)}`),
  ];
}

async function printBundle(ctx: CommandContext, tl: Threadline, bundle: IncidentBundle): Promise<void> {
  const out = ctx.out;
  const t = bundle.transaction;
  for (const line of transactionLines(t)) out.line(line);
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
  if (bundle.changeCount === 0) {
    out.line('changes: none (the transaction recorded an action but changed no audited row)');
    return;
  }
  out.line(`changes (${bundle.changeCount}, in capture order):`);
  const progress = out.progress('reading changes', Math.ceil(bundle.changeCount / CHANGES_PER_READ));
  for await (const changes of allChanges(tl, bundle)) {
    progress.step(`of transaction ${t.id}`);
    for (const entry of changes) printChange(out, entry);
  }
  progress.done();
}

function printChange(out: Output, { change, diff }: ChangeEntry): void {
  out.line();
  const key = change.op === 'truncate' ? '' : ` ${safe(changeKey(change))}`;
  out.line(`  ${change.op} ${safe(tableText(change))}${key}  at ${change.capturedAt}  (change ${change.id})`);
  if (change.op === 'truncate') {
    const before = change.dataBefore as unknown;
    const partition =
      typeof before === 'object' && before !== null
        ? (before as Record<string, unknown>).partition
        : undefined;
    out.line(
      `    ${typeof partition === 'string' ? `partition ${safe(partition)}` : 'whole table'} truncated`,
    );
    return;
  }
  if (change.op === 'update' && !diff.beforeKnown)
    out.line('    (old values are not stored for this table: changedFrom is off)');
  if (change.op === 'delete' && !diff.beforeKnown)
    out.line('    (no delete snapshot stored for this table: only the key is known)');
  for (const f of diff.fields) out.line(`    ${fieldText(diff, f)}`);
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
