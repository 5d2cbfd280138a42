import type { InstallResult } from '@threadline/core';
import { installScript, renderMigration, SCHEMA_VERSION } from '@threadline/core/internal';
import { ExitCode } from '../exit-codes.js';
import { migrationFormat, OUT_OPTIONS, writeMigration } from '../migration-output.js';
import type { Command, CommandContext } from './command.js';
import { describeStep } from './storage.js';

export const installCommand: Command = {
  path: ['install'],
  summary: "create or update Threadline's storage schema (idempotent), or write it as SQL or a migration",
  usage: 'threadline install [--schema S] [--apply | --out DIR --format sql|knex|typeorm] [--json]',
  options: {
    apply: {
      type: 'boolean',
      description: 'install now, on the database from DATABASE_URL or --database-url',
    },
    ...OUT_OPTIONS,
  },
  details: [
    'With neither --apply nor --out, the install SQL is printed, so this works:',
    '  threadline install > threadline_install.sql && psql "$DATABASE_URL" -1 -f threadline_install.sql',
    'Upgrading an install whose audit_changes is not partitioned (config storage.partition, default month):',
    '--apply converts it in place (the table becomes the default partition, catalog only) and moves its rows',
    'into monthly partitions, one partition per transaction, with progress; `threadline storage status` shows',
    'whether a migration is pending, and `threadline storage maintain` finishes one that was interrupted.',
  ].join('\n'),
  async run(ctx) {
    if (ctx.flags.apply && ctx.flags.out !== undefined) {
      throw ctx.usageError('--apply and --out are alternatives: install now, or write a migration file');
    }
    const format = migrationFormat(ctx);
    if (ctx.flags.apply) return apply(ctx);
    const outDir = ctx.flags.out as string | undefined;
    if (outDir !== undefined) {
      const written = writeMigration(ctx.cwd, outDir, (existing) =>
        renderMigration({ kind: 'install', format, schema: ctx.schema, existing, ...partition(ctx) }),
      );
      if (ctx.json) ctx.out.json({ kind: 'install', format, schema: ctx.schema, file: written.path });
      else {
        ctx.out.line(written.display);
        ctx.out.note(
          `wrote the ${format} install migration for schema "${ctx.schema}"; run it with your migration tool (see https://github.com/threadline-ts/threadline/blob/main/docs/cli.md#migration-files)`,
        );
      }
      return 0;
    }
    const sql = `BEGIN;\n${installScript(ctx.schema, partition(ctx))}\nCOMMIT;\n`;
    if (ctx.json) {
      ctx.out.json({ schema: ctx.schema, schemaVersion: SCHEMA_VERSION, sql });
      return 0;
    }
    ctx.out.raw(sql);
    ctx.out.note(
      'hint: this is the install SQL; redirect it to a file (threadline install > install.sql), run `threadline install --apply`, or write a migration with --out DIR --format sql|knex|typeorm',
    );
    return 0;
  },
};

/** operational-writable (a role may write retention_runs / export_jobs) is expected for the role that runs them. */
const isProblem = (finding: { code: string }): boolean => finding.code !== 'operational-writable';

async function apply(ctx: CommandContext): Promise<number> {
  const tl = await ctx.threadline();
  const result: InstallResult = await tl.install();
  if (ctx.json) {
    const migration = result.storage.migrationPending ? await tl.storage.maintain() : null;
    ctx.out.json({ ...result, ...(migration ? { storageMigration: migration } : {}) });
    return result.findings.some(isProblem) ? ExitCode.failed : ExitCode.ok;
  }
  ctx.out.line(
    `Threadline is installed in schema "${result.schema}" (schema version ${result.schemaVersion}).`,
  );
  if (result.ddlSync) {
    ctx.out.line(
      'DDL sync: active. ALTER TABLE on an audited table regenerates its capture in the same transaction.',
    );
  } else {
    ctx.out.line(
      'DDL sync: not active. This database role may not create event triggers (PostgreSQL allows that only to superusers), ' +
        'so capture is generated in portable mode: writes never fail after ALTER TABLE, but run `threadline gen-triggers --apply` ' +
        'again after schema changes to keep change detection complete. Install as a superuser to enable DDL sync.',
    );
  }
  if (result.storage.migrationPending) {
    ctx.out.line(
      result.storage.layout === 'unpartitioned' && result.storage.partition !== 'none'
        ? `Storage migration: audit_changes is not partitioned; converting it to ${result.storage.partition} partitions in place (nothing is copied first; its rows move one partition per transaction and stay readable throughout).`
        : 'Storage migration: keying changes written before table ids in batches (they stay readable throughout).',
    );
    const moved = await tl.storage.maintain({
      onProgress: (p) => ctx.out.note(describeStep(p)),
    });
    ctx.out.line(
      `Storage migration done: ${moved.movedRows.toLocaleString('en-US')} changes moved into ${moved.created.length} partitions; ${moved.defaultPartitionRows} left in the default partition; ${moved.keyedRows.toLocaleString('en-US')} changes keyed.`,
    );
  }
  for (const finding of result.findings)
    ctx.out.line(`${isProblem(finding) ? 'PROBLEM' : 'NOTE'} (${finding.code}): ${finding.message}`);
  if (result.findings.some(isProblem)) {
    ctx.out.note('install repaired what it could; the problems above need the action each one names');
    return ExitCode.failed;
  }
  ctx.out.note(
    'next: threadline gen-triggers --tables <your tables> --dry-run (or list them in threadline.config)',
  );
  return 0;
}

/** The configured audit_changes layout, for the printed SQL and migration files. */
function partition(ctx: CommandContext) {
  const unit = ctx.config.config.storage?.partition;
  return unit ? { partition: unit } : {};
}
