import type { Command } from './commands/command.js';
import { GLOBAL_OPTIONS, type OptionSpecs } from './options.js';
import { TOP_USAGE } from './parse-argv.js';

const EXIT_CODES =
  'exit codes: 0 ok; 1 a check failed or a thing was not found; 2 usage, configuration or connection error';

/** `threadline --help`: the commands and the global options. */
export function overviewHelp(commands: readonly Command[]): string {
  const names = commands.map((c) => c.path.join(' '));
  const width = Math.max(...names.map((n) => n.length));
  return [
    'threadline: audit trail for PostgreSQL (schema install, capture triggers, migrations, exploring what was captured)',
    '',
    `usage: ${TOP_USAGE}`,
    '',
    'commands:',
    ...commands.map((c, i) => `  ${names[i]!.padEnd(width)}  ${c.summary}`),
    '',
    'global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '',
    'The database is DATABASE_URL or --database-url; reads may go to a replica: DATABASE_READ_URL or --read-url.',
    'Config: threadline.config.{ts,mjs,js,json}.',
    EXIT_CODES,
    'Run "threadline <command> --help" for a command\'s options.',
    '',
  ].join('\n');
}

/** `threadline <command> --help`. */
export function commandHelp(command: Command): string {
  const own =
    Object.keys(command.options).length > 0 ? ['', 'options:', ...optionLines(command.options)] : [];
  return [
    `usage: ${command.usage}`,
    '',
    command.summary,
    ...own,
    '',
    'global options:',
    ...optionLines(GLOBAL_OPTIONS),
    ...(command.details ? ['', command.details] : []),
    '',
    EXIT_CODES,
    '',
  ].join('\n');
}

function optionLines(specs: OptionSpecs): string[] {
  const heads = Object.entries(specs).map(
    ([name, spec]) => `${spec.short ? `-${spec.short}, ` : ''}--${name}${spec.value ? ` ${spec.value}` : ''}`,
  );
  const width = Math.max(...heads.map((h) => h.length));
  return Object.values(specs).map((spec, i) => `  ${heads[i]!.padEnd(width)}  ${spec.description}`);
}
