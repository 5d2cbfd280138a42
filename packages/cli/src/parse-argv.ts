import { type ParseArgsConfig, parseArgs } from 'node:util';
import type { Command } from './commands/command.js';
import { UsageError } from './exit-codes.js';
import { type FlagValues, GLOBAL_OPTIONS, type OptionSpecs } from './options.js';

export const TOP_USAGE = 'threadline <command> [options]   (threadline --help lists the commands)';

export interface Invocation {
  /** null when no command was named (`threadline --help`, `threadline --version`, `threadline`). */
  readonly command: Command | null;
  readonly flags: FlagValues;
  readonly positionals: readonly string[];
}

/** Find the command (its words may follow global options) and parse its flags strictly. */
export function parseInvocation(argv: readonly string[], commands: readonly Command[]): Invocation {
  const start = commandStart(argv);
  if (start === -1) {
    return {
      command: null,
      flags: parseFlags([...argv], GLOBAL_OPTIONS, false, TOP_USAGE).values,
      positionals: [],
    };
  }
  const command = matchCommand(argv, start, commands);
  const rest = [...argv.slice(0, start), ...argv.slice(start + command.path.length)];
  const expected = command.positionals ?? [];
  const { values, positionals } = parseFlags(
    rest,
    { ...GLOBAL_OPTIONS, ...command.options },
    expected.length > 0,
    command.usage,
  );
  if (values.help !== true) {
    const required = expected.filter((p) => !p.optional).length;
    if (positionals.length < required) {
      throw new UsageError(`missing <${expected[positionals.length]!.name}>`, command.usage);
    }
    if (positionals.length > expected.length && !expected.at(-1)?.rest) {
      throw new UsageError(`unexpected argument "${positionals[expected.length]}"`, command.usage);
    }
  }
  return { command, flags: values, positionals };
}

const GLOBAL_VALUE_FLAGS = Object.entries(GLOBAL_OPTIONS)
  .filter(([, spec]) => spec.type === 'string')
  .map(([name]) => `--${name}`);
const GLOBAL_FLAGS = Object.entries(GLOBAL_OPTIONS).flatMap(([name, spec]) => [
  `--${name}`,
  ...('short' in spec ? [`-${spec.short}`] : []),
]);

/** Index of the first command word, skipping global options; -1 when there is none. */
function commandStart(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') return -1;
    if (!token.startsWith('-') || token === '-') return i;
    const name = token.split('=')[0]!;
    if (!GLOBAL_FLAGS.includes(name)) {
      throw new UsageError(
        `unknown option "${name}" (a command's own options go after the command name)`,
        TOP_USAGE,
      );
    }
    if (GLOBAL_VALUE_FLAGS.includes(token)) i++;
  }
  return -1;
}

function matchCommand(argv: readonly string[], start: number, commands: readonly Command[]): Command {
  const matches = commands.filter((c) => c.path.every((word, i) => argv[start + i] === word));
  if (matches.length > 0) return matches.reduce((a, b) => (b.path.length > a.path.length ? b : a));
  const word = argv[start]!;
  const group = commands.filter((c) => c.path[0] === word);
  if (group.length > 0) {
    const next = argv[start + 1];
    throw new UsageError(
      `${next === undefined || next.startsWith('-') ? `"${word}" needs a subcommand` : `unknown command "${word} ${next}"`}; use ${group.map((c) => `"${c.path.join(' ')}"`).join(' or ')}`,
      TOP_USAGE,
    );
  }
  const known = [...new Set(commands.map((c) => c.path[0]))].join(', ');
  throw new UsageError(`unknown command "${word.slice(0, 40)}"; the commands are ${known}`, TOP_USAGE);
}

function parseFlags(args: string[], specs: OptionSpecs, allowPositionals: boolean, usage: string) {
  const options: NonNullable<ParseArgsConfig['options']> = {};
  for (const [name, spec] of Object.entries(specs)) {
    options[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
  }
  try {
    const parsed = parseArgs({ args, options, strict: true, allowPositionals });
    return { values: parsed.values as FlagValues, positionals: parsed.positionals };
  } catch (error) {
    throw new UsageError(describeParseError(error as Error & { code?: string }), usage);
  }
}

function describeParseError(error: Error & { code?: string }): string {
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? '';
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      if (/^-\d/.test(quoted))
        return `unknown option "${quoted.slice(0, 60)}": a value that starts with "-" (a negative key) goes after "--", e.g. threadline history accounts -- ${quoted.slice(0, 60)}`;
      return `unknown option "${quoted.slice(0, 60)}"`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take/.test(error.message)) return `${quoted} does not take a value`;
      if (/ambiguous/.test(error.message))
        return `${quoted} needs a value; for one that starts with "-", write ${quoted}=VALUE`;
      return `${quoted.replace(/ <value>$/, '')} needs a value`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument "${quoted.slice(0, 60)}"`;
    default:
      return error.message;
  }
}
