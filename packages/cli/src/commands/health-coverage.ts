import { type CoverageReport, isThreadlineError, type ReadReplicaStatus } from '@threadline/core';
import { ExitCode } from '../exit-codes.js';
import type { Command } from './command.js';
import { printFindings } from './print-findings.js';

export const healthCoverageCommand: Command = {
  path: ['health', 'coverage'],
  summary:
    'which tables are captured, which are not, and what is wrong with capture (from the catalogs only)',
  usage: 'threadline health coverage [--schema S | --all-schemas] [--strict] [--json]',
  options: {
    schema: {
      type: 'string',
      value: 'S',
      description:
        'the schema of your tables to check (here --schema is not the storage schema; that comes from the config). Default: public and every schema with a configured or captured table',
    },
    'all-schemas': { type: 'boolean', description: 'check every schema that has tables' },
    strict: { type: 'boolean', description: 'exit 1 when there is an error-severity finding' },
  },
  details: [
    'Expected uncovered: migration bookkeeping tables (knex, TypeORM, Prisma, Drizzle, node-pg-migrate,',
    'schema_migrations) and health.expectedUncoveredTables in the config, minus health.auditAnyway.',
    'Exit 0 (uncovered tables never fail it); with --strict, 1 on an error finding.',
  ].join('\n'),
  async run(ctx) {
    const schema = ctx.flags.schema as string | undefined;
    if (schema !== undefined && ctx.flags['all-schemas'])
      throw ctx.usageError('--schema and --all-schemas are alternatives; pick one');
    if (schema !== undefined && schema.trim() === '')
      throw ctx.usageError('--schema needs the name of a schema with your tables, e.g. --schema public');
    const tl = await ctx.threadline();
    let report: CoverageReport;
    try {
      report = await tl.health.coverage({ schema: ctx.flags['all-schemas'] ? 'all' : schema });
    } catch (error) {
      if (isThreadlineError(error) && (error.code === 'NOT_FOUND' || error.code === 'QUERY_INVALID'))
        throw ctx.usageError(error.message.replace(/^health\.coverage: /, ''));
      throw error;
    }
    const failed = ctx.flags.strict === true && report.findings.some((f) => f.severity === 'error');
    if (ctx.json) {
      ctx.out.json(report);
      return failed ? ExitCode.failed : ExitCode.ok;
    }
    let covered = 0;
    let uncovered = 0;
    let expected = 0;
    for (const s of report.schemas) {
      covered += s.covered.length;
      uncovered += s.uncovered.length;
      expected += s.expectedUncovered.length;
      ctx.out.line(`schema ${s.schema}`);
      const rows = [
        ...s.covered.map((table) => ({ table, status: 'covered', source: '' })),
        ...s.uncovered.map((table) => ({ table, status: 'uncovered', source: '' })),
        ...s.expectedUncovered.map((e) => ({ table: e.table, status: 'expected', source: e.source })),
      ];
      if (rows.length === 0) ctx.out.line('(no tables)');
      else ctx.out.table(rows, ['table', 'status', 'source']);
      ctx.out.line();
    }
    ctx.out.line(`Coverage: ${covered} covered, ${uncovered} uncovered, ${expected} expected uncovered`);
    printFindings(ctx.out, report.findings);
    if (report.readReplica) ctx.out.line(replicaLine(report.readReplica));
    if (uncovered > 0)
      ctx.out.note(
        'hint: capture a table with threadline gen-triggers --tables NAME --apply, or list it in health.expectedUncoveredTables',
      );
    return failed ? ExitCode.failed : ExitCode.ok;
  },
};

/** One line on how far behind the read replica the catalogs above were read from. */
function replicaLine(r: ReadReplicaStatus): string {
  if (!r.inRecovery)
    return 'Read from --read-url, which is not a streaming replica (not in recovery); replica lag not measured';
  const behind =
    r.lagBytes === 0
      ? 'caught up (0 s behind)'
      : `${r.lagSeconds === null ? 'unknown time' : `${r.lagSeconds.toFixed(1)} s`} behind (${r.lagBytes ?? '?'} bytes of WAL not replayed)`;
  return `Read from the replica (--read-url): ${behind}${r.replayPaused ? '; replay is PAUSED (pg_wal_replay_resume() to continue)' : ''}`;
}
