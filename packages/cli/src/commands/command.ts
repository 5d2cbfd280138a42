import type { Threadline } from '@threadline/core';
import type { LoadedConfig } from '../config/load-config.js';
import type { UsageError } from '../exit-codes.js';
import type { OutputStream } from '../io.js';
import type { FlagValues, OptionSpecs } from '../options.js';
import type { Output } from '../output.js';

/** One `threadline` command. Add a command by writing one of these and listing it in registry.ts. */
export interface Command {
  /** The words after `threadline`, e.g. ['install'] or ['health', 'coverage']. */
  readonly path: readonly string[];
  /** One line for the command list. */
  readonly summary: string;
  /** The usage line, e.g. `threadline install [--apply | --out DIR --format sql|knex|typeorm]`. */
  readonly usage: string;
  /** Options beyond the global ones. */
  readonly options: OptionSpecs;
  /** Positional arguments, in order (none when omitted). */
  readonly positionals?: readonly {
    readonly name: string;
    readonly optional?: boolean;
    /** The last positional only: it takes every remaining argument (those after `--` too). */
    readonly rest?: boolean;
  }[];
  /** Extra help text shown after the option list. */
  readonly details?: string;
  /** Returns the exit code; throws ThreadlineError or UsageError for failures. */
  run(ctx: CommandContext): Promise<number>;
}

export interface CommandContext {
  readonly flags: FlagValues;
  readonly positionals: readonly string[];
  readonly config: LoadedConfig;
  /** Storage schema: --schema, else the config's schema, else `threadline`. */
  readonly schema: string;
  /** --json was given: print exactly one JSON document on stdout. */
  readonly json: boolean;
  readonly cwd: string;
  readonly out: Output;
  /** The raw streams, for commands that stream bytes (export --out -) and need backpressure. */
  readonly stdout: OutputStream;
  readonly stderr: OutputStream;
  /**
   * Connect (once) to the database from --database-url or DATABASE_URL, and to the read replica
   * from --read-url or DATABASE_READ_URL when one is given (reads go there, writes never).
   */
  threadline(): Promise<Threadline>;
  /** A usage error carrying this command's usage line (exit 2). */
  usageError(message: string): UsageError;
}
