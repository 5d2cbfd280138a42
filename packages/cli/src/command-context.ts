import { dirname, resolve } from 'node:path';
import { createThreadline, type RetentionPolicy, type Threadline } from '@threadline/core';
import type pg from 'pg';
import type { Command, CommandContext } from './commands/command.js';
import type { LoadedConfig } from './config/load-config.js';
import { connect } from './connect.js';
import { resolveDatabaseUrl, resolveReadUrl } from './database-url.js';
import { UsageError } from './exit-codes.js';
import type { CliIo } from './io.js';
import type { FlagValues } from './options.js';
import { createOutput } from './output.js';

const DEFAULT_SCHEMA = 'threadline';

/** A relative retention.archive.dir is relative to the config file (not to wherever the CLI runs). */
function retentionFromConfig(config: LoadedConfig): RetentionPolicy | undefined {
  const retention = config.config.retention;
  const archive = retention?.archive;
  if (!retention || !config.path || typeof archive !== 'object' || typeof archive.dir !== 'string') {
    return retention;
  }
  return { ...retention, archive: { ...archive, dir: resolve(dirname(config.path), archive.dir) } };
}

/** The context a command runs in; `close()` ends the database pool if one was opened. */
export function createCommandContext(
  command: Command,
  flags: FlagValues,
  positionals: readonly string[],
  config: LoadedConfig,
  io: CliIo,
): CommandContext & { close(): Promise<void> } {
  // A command that declares its own --schema (health coverage: the schema to check) leaves the
  // storage schema to the config.
  const schemaFlag = 'schema' in command.options ? undefined : (flags.schema as string | undefined);
  if (schemaFlag !== undefined && schemaFlag.trim() === '') {
    throw new UsageError('--schema needs a schema name, e.g. --schema threadline', command.usage);
  }
  const schema = schemaFlag ?? config.config.schema ?? DEFAULT_SCHEMA;
  const json = flags.json === true;
  let pool: pg.Pool | undefined;
  let readPool: pg.Pool | undefined;
  let instance: Promise<Threadline> | undefined;
  return {
    flags,
    positionals,
    config,
    schema,
    json,
    cwd: io.cwd,
    out: createOutput(io, json),
    stdout: io.stdout,
    stderr: io.stderr,
    threadline() {
      instance ??= (async () => {
        const target = resolveDatabaseUrl(flags['database-url'] as string | undefined, io.env);
        const readTarget = resolveReadUrl(flags['read-url'] as string | undefined, io.env);
        pool = await connect(target);
        if (readTarget) readPool = await connect(readTarget);
        return createThreadline({
          db: pool,
          ...(readPool ? { readDb: readPool } : {}),
          schema,
          tables: config.config.tables,
          ...(config.config.retention ? { retention: retentionFromConfig(config) } : {}),
          ...(config.config.storage ? { storage: config.config.storage } : {}),
          health: config.config.health,
        });
      })();
      return instance;
    },
    usageError: (message) => new UsageError(message, command.usage),
    async close() {
      await pool?.end().catch(() => undefined);
      await readPool?.end().catch(() => undefined);
    },
  };
}
