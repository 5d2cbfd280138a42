import type { CapturePlan, TableName } from '@threadline/core';
import {
  type ConfiguredTable,
  formatTableName,
  type MigrationFormat,
  renderMigration,
  resolveTargets,
  splitTableList,
} from '@threadline/core/internal';
import { migrationFormat, OUT_OPTIONS, writeMigration } from '../migration-output.js';
import { printFunctionSql, printPlans } from '../plan-summary.js';
import type { Progress } from '../progress.js';
import type { Command, CommandContext } from './command.js';

const MODES = ['dry-run', 'apply', 'out'] as const;

export const genTriggersCommand: Command = {
  path: ['gen-triggers'],
  summary: 'install capture triggers per the config, show what would be installed, or write a migration',
  usage:
    'threadline gen-triggers [--tables a,b] (--dry-run [--show-sql] | --apply | --out DIR --format sql|knex|typeorm) [--json]',
  options: {
    tables: {
      type: 'string',
      value: 'LIST',
      description:
        'comma-separated tables, exact (case-sensitive), optionally schema.name; quote a name containing "." or "," ("my.table"); default: every table in the config',
    },
    'dry-run': {
      type: 'boolean',
      description: 'show per table what would be installed (key, mode, redaction); change nothing',
    },
    'show-sql': {
      type: 'boolean',
      description: 'with --dry-run: also print the generated capture functions',
    },
    apply: { type: 'boolean', description: 'install the triggers now, all tables in one transaction' },
    ...OUT_OPTIONS,
  },
  details: [
    'Capture options per table (exclude, mask, exceptColumns, primaryKey, ...) come from "tables" in the config.',
    'A migration written with --out calls the generator inside the database, so keys are resolved when it runs;',
    'run the install migration first.',
  ].join('\n'),
  async run(ctx) {
    const chosen = MODES.filter((mode) => ctx.flags[mode] !== undefined && ctx.flags[mode] !== false);
    if (chosen.length === 0) {
      throw ctx.usageError(
        'say what to do: --dry-run (show the plan, change nothing), --apply (install the triggers now) or --out DIR (write a migration)',
      );
    }
    if (chosen.length > 1)
      throw ctx.usageError(`${chosen.map((m) => `--${m}`).join(' and ')} are alternatives; pick one`);
    const format = migrationFormat(ctx);
    if (ctx.flags['show-sql'] && !ctx.flags['dry-run']) {
      throw ctx.usageError(
        '--show-sql works with --dry-run (with --apply and --out the SQL is generated inside the database)',
      );
    }
    const names = ctx.flags.tables !== undefined ? splitTableList(ctx.flags.tables as string) : undefined;
    if (names === undefined && ctx.config.tables.size === 0) {
      throw ctx.usageError(
        `no tables to capture: pass --tables posts,billing.invoices or list them under "tables" in ${ctx.config.path ? 'the config' : 'threadline.config.ts'}`,
      );
    }
    // Parse every name before connecting, so a typo is a usage error and not a database round trip.
    const targets = resolveTargets(ctx.config.tables, names, '--tables');
    if (chosen[0] === 'out') return writeTriggerMigration(ctx, targets, format);
    return chosen[0] === 'apply' ? apply(ctx, names) : dryRun(ctx, names);
  },
};

async function dryRun(ctx: CommandContext, tables: string[] | undefined): Promise<number> {
  const tl = await ctx.threadline();
  const plans = await withProgress(ctx, 'planning', (onTable) => tl.planTriggers({ tables, onTable }));
  const showSql = ctx.flags['show-sql'] === true;
  if (ctx.json) {
    ctx.out.json({
      dryRun: true,
      plans: showSql ? plans : plans.map(({ functionSql: _sql, ...plan }) => plan),
    });
    return 0;
  }
  printPlans(ctx.out, plans);
  if (showSql) printFunctionSql(ctx.out, plans);
  ctx.out.line();
  ctx.out.line('dry run: nothing was changed');
  return 0;
}

async function apply(ctx: CommandContext, tables: string[] | undefined): Promise<number> {
  const tl = await ctx.threadline();
  const plans = await withProgress(ctx, 'applying', (onTable) => tl.installTriggers({ tables, onTable }));
  if (ctx.json) {
    ctx.out.json({ dryRun: false, plans });
    return 0;
  }
  printPlans(ctx.out, plans);
  ctx.out.line();
  ctx.out.line(
    `capture installed on ${plans.length} table${plans.length === 1 ? '' : 's'} (one transaction)`,
  );
  return 0;
}

function writeTriggerMigration(
  ctx: CommandContext,
  targets: ConfiguredTable[],
  format: MigrationFormat,
): number {
  let installFirst = false;
  const written = writeMigration(ctx.cwd, ctx.flags.out as string, (existing) => {
    installFirst = existing.some((name) => /threadline_install|ThreadlineInstall/.test(name));
    return renderMigration({ kind: 'triggers', format, schema: ctx.schema, tables: targets, existing });
  });
  if (ctx.json) {
    ctx.out.json({
      kind: 'triggers',
      format,
      schema: ctx.schema,
      file: written.path,
      tables: targets.map((t) => t.table),
    });
    return 0;
  }
  ctx.out.line(written.display);
  ctx.out.note(
    `wrote a ${format} trigger migration for ${targets.map((t) => formatTableName(t.table)).join(', ')}; ` +
      'key columns are resolved when it runs',
  );
  if (!installFirst) {
    ctx.out.note(
      `note: ${ctx.flags.out} holds no Threadline install migration, which must run before this one: write it first (threadline install --out ${ctx.flags.out} --format ${format}) and then this file again, so it sorts after it, or install with threadline install --apply`,
    );
  }
  return 0;
}

type OnTable = (table: TableName, index: number, total: number) => void;

async function withProgress(
  ctx: CommandContext,
  verb: string,
  work: (onTable: OnTable) => Promise<CapturePlan[]>,
) {
  let progress: Progress | undefined;
  try {
    return await work((table, _index, total) => {
      progress ??= ctx.out.progress(verb, total);
      progress.step(formatTableName(table));
    });
  } finally {
    progress?.done();
  }
}
