import { ExitCode } from '../exit-codes.js';
import type { Command } from './command.js';

export const policyShowCommand: Command = {
  path: ['policy', 'show'],
  summary: 'configured vs deployed redaction (exclude, mask) for every configured or captured table',
  usage: 'threadline policy show [--strict] [--json]',
  options: {
    strict: {
      type: 'boolean',
      description: 'exit 1 when a table is in drift, not deployed, or could not be introspected',
    },
  },
  details: [
    'States: matches, drift (the deployed function redacts differently), not_deployed (configured, no',
    'capture), could_not_introspect (the installed function is not what Threadline generates: edited by',
    'hand, or the table changed). Only column names and placeholders are shown, never a captured value.',
  ].join('\n'),
  async run(ctx) {
    const tl = await ctx.threadline();
    const report = await tl.policy.show();
    const failed = ctx.flags.strict === true && report.tables.some((t) => t.state !== 'matches');
    if (ctx.json) {
      ctx.out.json(report);
      return failed ? ExitCode.failed : ExitCode.ok;
    }
    if (report.tables.length === 0) {
      ctx.out.line('No configured or captured tables.');
      return ExitCode.ok;
    }
    const list = (v: string[]) => (v.length === 0 ? '-' : v.join(', '));
    ctx.out.table(
      report.tables.map((t) => ({
        table: t.table,
        state: t.state,
        'configured exclude': list(t.configured.exclude),
        'configured mask': list(t.configured.mask),
        'deployed exclude': t.deployed ? list(t.deployed.exclude) : '?',
        'deployed mask': t.deployed ? list(t.deployed.mask) : '?',
      })),
      ['table', 'state', 'configured exclude', 'configured mask', 'deployed exclude', 'deployed mask'],
    );
    for (const t of report.tables) if (t.reason) ctx.out.line(`- ${t.table}: ${t.reason}`);
    return failed ? ExitCode.failed : ExitCode.ok;
  },
};
