import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ThreadlineError } from '@threadline/core';
import type { MigrationFile, MigrationFormat } from '@threadline/core/internal';
import type { CommandContext } from './commands/command.js';

const MIGRATION_FORMATS: readonly MigrationFormat[] = ['sql', 'knex', 'typeorm'];

export const OUT_OPTIONS = {
  out: {
    type: 'string',
    value: 'DIR',
    description: 'write a migration file into DIR (created if needed) instead',
  },
  format: {
    type: 'string',
    value: 'F',
    description: 'migration format for --out: sql (default), knex or typeorm',
  },
} as const;

/** The --format value (only meaningful with --out). */
export function migrationFormat(ctx: CommandContext): MigrationFormat {
  const format = ctx.flags.format as string | undefined;
  if (format !== undefined && ctx.flags.out === undefined) {
    throw ctx.usageError('--format only applies with --out DIR');
  }
  if (format === undefined) return 'sql';
  if (!(MIGRATION_FORMATS as readonly string[]).includes(format)) {
    throw ctx.usageError(
      `--format must be one of ${MIGRATION_FORMATS.join(', ')}, not "${format.slice(0, 40)}"`,
    );
  }
  return format as MigrationFormat;
}

export interface WrittenMigration {
  /** Absolute path of the new file. */
  readonly path: string;
  /** The path as the user would type it from the working directory. */
  readonly display: string;
  readonly fileName: string;
}

/**
 * Write a migration into `dir` (relative to `cwd`). `render` gets the names already there so the
 * new file's version sorts after them; an existing file is never overwritten.
 */
export function writeMigration(
  cwd: string,
  dir: string,
  render: (existing: string[]) => MigrationFile,
): WrittenMigration {
  const target = resolve(cwd, dir);
  let existing: string[];
  try {
    mkdirSync(target, { recursive: true });
    existing = readdirSync(target);
  } catch (error) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `--out ${dir}: cannot use it as a directory (${(error as Error).message})`,
      { cause: error },
    );
  }
  const file = render(existing);
  const path = join(target, file.fileName);
  try {
    writeFileSync(path, file.contents, { flag: 'wx' });
  } catch (error) {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `--out ${dir}: cannot write ${file.fileName} (${(error as Error).message})`,
      { cause: error },
    );
  }
  const rel = relative(cwd, path);
  return { path, fileName: file.fileName, display: rel.startsWith('..') || isAbsolute(rel) ? path : rel };
}
