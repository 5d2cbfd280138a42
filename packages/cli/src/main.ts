import { createCommandContext } from './command-context.js';
import { COMMANDS } from './commands/registry.js';
import { loadConfig } from './config/load-config.js';
import { ExitCode, exitCodeFor, UsageError } from './exit-codes.js';
import { commandHelp, overviewHelp } from './help.js';
import { type CliIo, processIo } from './io.js';
import { parseInvocation, TOP_USAGE } from './parse-argv.js';
import { reportError } from './report-error.js';
import { VERSION } from './version.js';

/**
 * Run the CLI in-process: `argv` without the node and script paths. Returns the exit code
 * (0 ok, 1 a check failed or a thing was not found, 2 usage or connection error).
 */
export async function main(
  argv: readonly string[] = process.argv.slice(2),
  io: CliIo = processIo(),
): Promise<number> {
  let close: (() => Promise<void>) | undefined;
  try {
    const { command, flags, positionals } = parseInvocation(argv, COMMANDS);
    if (flags.version === true) {
      io.stdout.write(`${VERSION}\n`);
      return ExitCode.ok;
    }
    if (command === null) {
      if (flags.help !== true)
        throw new UsageError('no command given; run threadline --help to see the commands', TOP_USAGE);
      io.stdout.write(overviewHelp(COMMANDS));
      return ExitCode.ok;
    }
    if (flags.help === true) {
      io.stdout.write(commandHelp(command));
      return ExitCode.ok;
    }
    const config = await loadConfig(io.cwd, flags.config as string | undefined);
    const ctx = createCommandContext(command, flags, positionals, config, io);
    close = ctx.close;
    return await command.run(ctx);
  } catch (error) {
    reportError(error, io);
    return exitCodeFor(error);
  } finally {
    await close?.();
  }
}
