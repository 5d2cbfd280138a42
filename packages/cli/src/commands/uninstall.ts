import type { UninstallResult } from '@threadline/core';
import type { Command, CommandContext } from './command.js';

export const uninstallCommand: Command = {
  path: ['uninstall'],
  summary:
    'remove Threadline (capture triggers, functions, event triggers), keeping the audit data unless told',
  usage: 'threadline uninstall [--schema S] [--dry-run | --apply] [--drop-data] [--json]',
  options: {
    apply: { type: 'boolean', description: 'remove it now, in one transaction' },
    'dry-run': { type: 'boolean', description: 'print the statements and change nothing (the default)' },
    'drop-data': {
      type: 'boolean',
      description: 'also drop the audit data (the whole storage schema); without it the audit tables stay',
    },
  },
  details: [
    'Without --apply nothing changes: the statements are printed for review.',
    'Keeping the data leaves audit_changes, audit_transactions and audit_actions readable; a later',
    '`threadline install --apply` and `gen-triggers --apply` continue them. See docs/operations.md.',
  ].join('\n'),
  async run(ctx) {
    if (ctx.flags.apply && ctx.flags['dry-run']) {
      throw ctx.usageError('--apply and --dry-run are alternatives');
    }
    const tl = await ctx.threadline();
    const result = await tl.uninstall({
      dropData: ctx.flags['drop-data'] === true,
      dryRun: ctx.flags.apply !== true,
    });
    if (ctx.json) {
      ctx.out.json(result);
      return 0;
    }
    report(ctx, result);
    return 0;
  },
};

function report(ctx: CommandContext, result: UninstallResult): void {
  if (result.statements.length === 0) {
    ctx.out.line(`Threadline is not installed in schema "${result.schema}": nothing to remove.`);
    return;
  }
  if (!result.applied) {
    for (const statement of result.statements) ctx.out.line(`${statement};`);
    ctx.out.note(
      `dry run: nothing changed. ${result.tables.length} table(s) would stop being audited; audit data would be ${result.dropData ? 'DROPPED' : 'kept'}. Run again with --apply to remove.`,
    );
    return;
  }
  ctx.out.line(
    `Threadline is removed from schema "${result.schema}": ${result.tables.length} table(s) no longer audited; audit data ${result.dropData ? 'dropped' : `kept in schema "${result.schema}"`}.`,
  );
}
