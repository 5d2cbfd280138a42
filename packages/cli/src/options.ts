/** A command-line option: how parseArgs reads it and how --help shows it. */
interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** Placeholder shown in help, e.g. `DIR` for `--out DIR`. */
  readonly value?: string;
  readonly description: string;
}

export type OptionSpecs = Readonly<Record<string, OptionSpec>>;

/** Accepted by every command, before or after the command name. */
export const GLOBAL_OPTIONS = {
  config: {
    type: 'string',
    value: 'PATH',
    description: 'config file (default: threadline.config.{ts,mjs,js,json} in the working directory)',
  },
  'database-url': {
    type: 'string',
    value: 'URL',
    description: 'PostgreSQL URL (default: the DATABASE_URL environment variable)',
  },
  'read-url': {
    type: 'string',
    value: 'URL',
    description:
      'PostgreSQL URL of a read replica for the read commands (history, timeline, incident, export, health, policy, continuity); default: DATABASE_READ_URL, else the database URL',
  },
  schema: {
    type: 'string',
    value: 'S',
    description: "Threadline's storage schema (default: schema in the config, else threadline)",
  },
  json: { type: 'boolean', description: 'print one JSON document on stdout instead of text' },
  help: { type: 'boolean', short: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version' },
} as const satisfies OptionSpecs;

/** Flag values as parseArgs returns them. */
export type FlagValues = Readonly<Record<string, string | boolean | undefined>>;
