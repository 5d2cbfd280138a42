import { resolveVerifyCoverageConfig, ThreadlineError } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import type { Command } from './command.js';
import { printFindings } from './print-findings.js';

export const verifyCoverageCommand: Command = {
  path: ['verify-coverage'],
  summary: 'CI gate: exit 1 unless every table in verifyCoverage.expectedTables is captured and healthy',
  usage: 'threadline verify-coverage [--json]',
  options: {},
  details: [
    'Expected tables come from the config: verifyCoverage: { expectedTables: ["posts", "billing.invoices"] }.',
    'Exit 0 when each one exists, is covered and has no error finding; 1 when one is missing, uncovered',
    '(for example a disabled trigger) or has an error finding. Other uncovered tables are only reported.',
  ].join('\n'),
  async run(ctx) {
    const raw = ctx.config.config.verifyCoverage;
    if (raw === undefined)
      throw new ThreadlineError(
        'CONFIG_INVALID',
        `${ctx.config.path ?? 'the config'}: verify-coverage needs verifyCoverage: { expectedTables: ["posts", ...] } in threadline.config`,
      );
    resolveVerifyCoverageConfig(raw);
    const tl = await ctx.threadline();
    const report = await tl.health.verify({ expectedTables: raw.expectedTables });
    if (ctx.json) {
      ctx.out.json(report);
      return report.ok ? ExitCode.ok : ExitCode.failed;
    }
    ctx.out.table(
      report.tables.map((t) => ({ table: t.table, status: t.status, errors: t.errors.join(', ') || '-' })),
      ['table', 'status', 'errors'],
    );
    const violated = report.tables.filter((t) => t.status !== 'covered' || t.errors.length > 0).length;
    ctx.out.line(
      `summary: ${report.tables.length - violated}/${report.tables.length} expected tables covered (${violated} violated)`,
    );
    if (report.findings.length > 0) {
      ctx.out.line();
      printFindings(ctx.out, report.findings);
    }
    if (!report.ok) ctx.out.note('verify-coverage: FAILED; each finding above names its fix');
    return report.ok ? ExitCode.ok : ExitCode.failed;
  },
};
