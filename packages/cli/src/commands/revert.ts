import { createInterface } from 'node:readline/promises';
import { ActorRef, type RevertPlan, type RevertTarget } from '@threadline/core';
import { parseTableName } from '@threadline/core/internal';
import { ExitCode } from '../exit-codes.js';
import { keyText, safe, value } from '../render-changes.js';
import type { Command, CommandContext } from './command.js';
import { parseKey } from './history.js';

export const revertCommand: Command = {
  path: ['revert'],
  summary: 'undo an audit transaction, a correlation bundle or one row back to a change or instant',
  usage:
    'threadline revert <transaction-id> | --correlation-id C | --table T --pk K --to ID|ISO (--dry-run [--sql] | --apply --actor TYPE:ID [--yes] [--force] [--reason TEXT]) [--json]',
  positionals: [{ name: 'transaction-id', optional: true }],
  options: {
    'correlation-id': {
      type: 'string',
      value: 'C',
      description: 'revert every audit transaction of this correlation id',
    },
    table: { type: 'string', value: 'T', description: 'revert one row of this table (with --pk and --to)' },
    pk: {
      type: 'string',
      value: 'K',
      description: "the row's key: a value, or a JSON object naming every key column",
    },
    to: {
      type: 'string',
      value: 'ID|ISO',
      description: 'restore the row as it was right after this change id, or at this instant',
    },
    'dry-run': { type: 'boolean', description: 'print the plan (steps and conflicts) and change nothing' },
    sql: { type: 'boolean', description: 'with --dry-run: print the compensating SQL and its bound values' },
    apply: { type: 'boolean', description: 'run the plan in one transaction' },
    actor: {
      type: 'string',
      value: 'TYPE:ID',
      description: 'who reverts, e.g. admin:alice (required with --apply)',
    },
    yes: {
      type: 'boolean',
      description: 'do not ask for confirmation (required when stdin is not a terminal)',
    },
    force: {
      type: 'boolean',
      description: 'overwrite rows changed again since the reverted change (never values not stored)',
    },
    reason: { type: 'string', value: 'TEXT', description: 'why, stored on the threadline.revert action' },
  },
  details: [
    'Plan first: threadline revert 4711 --dry-run. Exit 1 when the plan has conflicts (or apply refuses), 2 on usage errors.',
    'The revert runs as one transaction, attributed to --actor with source threadline:revert; it is audited and can be reverted.',
    'See docs/revert.md for what can and cannot be reverted.',
  ].join('\n'),
  async run(ctx) {
    const target = parseTarget(ctx);
    const dryRun = ctx.flags['dry-run'] === true;
    const apply = ctx.flags.apply === true;
    if (dryRun === apply) throw ctx.usageError('choose --dry-run (show the plan) or --apply (run it)');
    if (ctx.flags.sql && !dryRun) throw ctx.usageError('--sql only goes with --dry-run');
    for (const flag of ['actor', 'yes', 'force', 'reason'])
      if (dryRun && ctx.flags[flag] !== undefined) throw ctx.usageError(`--${flag} only goes with --apply`);
    let actor: ActorRef | undefined;
    if (apply) {
      const text = ctx.flags.actor as string | undefined;
      if (!text)
        throw ctx.usageError(
          '--apply needs --actor TYPE:ID (who reverts, e.g. admin:alice): a revert is always attributed',
        );
      try {
        actor = ActorRef.fromString(text);
      } catch (error) {
        throw ctx.usageError(`--actor: ${(error as Error).message}`);
      }
      if (ctx.flags.yes !== true && process.stdin.isTTY !== true)
        throw ctx.usageError('stdin is not a terminal, so there is no one to confirm; pass --yes to apply');
    }
    const tl = await ctx.threadline();
    const plan = await tl.revert.plan(target);
    if (dryRun) return showPlan(ctx, plan);
    const force = ctx.flags.force === true;
    const blocking = plan.conflicts.filter((c) => c.kind !== 'changed_since' || !force);
    if (blocking.length > 0) {
      if (ctx.json) ctx.out.json({ applied: false, plan });
      else printPlan(ctx, plan);
      ctx.out.note(
        `threadline: not applied: ${blocking.length} conflict(s)${force ? '' : '; rows changed since can be overwritten with --force'}`,
      );
      return ExitCode.failed;
    }
    if (plan.steps.length === 0) {
      if (ctx.json) ctx.out.json({ applied: 0, auditTransactionId: null, plan });
      else ctx.out.line(`${safe(plan.summary.text)}: nothing to do`);
      return ExitCode.ok;
    }
    if (
      ctx.flags.yes !== true &&
      !(await confirm(`${plan.summary.text}. Apply as ${ActorRef.format(actor!)}? [y/N] `))
    ) {
      ctx.out.note('threadline: not applied');
      return ExitCode.failed;
    }
    const progress = ctx.out.progress('reverting', plan.steps.length);
    const result = await tl.revert.apply(plan, {
      actor: actor!,
      force,
      ...(ctx.flags.reason !== undefined ? { reason: ctx.flags.reason as string } : {}),
      onProgress: (p) => progress.step(`${p.op} ${p.table} ${p.done}/${p.total}`),
    });
    progress.done();
    if (ctx.json) ctx.out.json({ ...result, summary: plan.summary });
    else
      ctx.out.line(
        `reverted: ${result.applied} row(s) in audit transaction ${result.auditTransactionId ?? '-'} (action ${result.actionId}); undo it with: threadline revert ${result.auditTransactionId ?? ''} --dry-run`,
      );
    return ExitCode.ok;
  },
};

function parseTarget(ctx: CommandContext): RevertTarget {
  const id = ctx.positionals[0];
  const correlation = ctx.flags['correlation-id'] as string | undefined;
  const row = ['table', 'pk', 'to'].filter((f) => ctx.flags[f] !== undefined);
  const given = [id !== undefined, correlation !== undefined, row.length > 0].filter(Boolean).length;
  if (given !== 1)
    throw ctx.usageError(
      'name exactly one thing to revert: <transaction-id>, --correlation-id C, or --table T --pk K --to ID|ISO',
    );
  if (id !== undefined) return { transactionId: id };
  if (correlation !== undefined) return { correlationId: correlation };
  if (row.length !== 3) throw ctx.usageError('reverting one row needs all of --table, --pk and --to');
  const table = ctx.flags.table as string;
  try {
    parseTableName(table);
  } catch (error) {
    throw ctx.usageError(`--table: ${(error as Error).message}`);
  }
  const to = (ctx.flags.to as string).trim();
  return { table, pk: parseKey(ctx, ctx.flags.pk as string), to };
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function showPlan(ctx: CommandContext, plan: RevertPlan): number {
  const exit = plan.conflicts.length > 0 ? ExitCode.failed : ExitCode.ok;
  if (ctx.json) {
    ctx.out.json(plan);
    return exit;
  }
  if (ctx.flags.sql) {
    ctx.out.line(`-- ${safe(plan.summary.text)}`);
    ctx.out.line(
      '-- each statement reads its values from the bound jsonb; tl.revert.apply runs set-based equivalents in one transaction',
    );
    for (const step of plan.steps) {
      ctx.out.line(`${step.sql};`);
      for (const [i, p] of step.params.entries()) ctx.out.line(`--   $${i + 1} = ${safe(p, 2000)}`);
    }
  } else printPlan(ctx, plan);
  for (const c of plan.conflicts) ctx.out.note(`conflict (${c.kind}): ${safe(c.detail, 1000)}`);
  return exit;
}

function printPlan(ctx: CommandContext, plan: RevertPlan): void {
  ctx.out.line(safe(plan.summary.text));
  if (plan.steps.length > 0) {
    ctx.out.line();
    ctx.out.table(
      plan.steps.map((s, i) => ({
        '#': i + 1,
        op: s.op,
        table: safe(s.table),
        key: safe(keyText(s.pk)),
        values: s.set
          ? Object.entries(s.set)
              .map(([k, v]) => `${safe(k)}=${value(v, 80)}`)
              .join(', ')
          : '',
      })),
      ['#', 'op', 'table', 'key', { key: 'values', maxWidth: 80 }],
    );
  }
  if (plan.conflicts.length > 0) {
    ctx.out.line();
    ctx.out.line(`conflicts (${plan.conflicts.length}):`);
    for (const c of plan.conflicts) ctx.out.line(`  ${c.kind}: ${safe(c.detail, 1000)}`);
  }
}
