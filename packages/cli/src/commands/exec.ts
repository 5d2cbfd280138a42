import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { ActorRef, runWithAuditContext, ThreadlineError } from '@threadline/core';
import type { Command, CommandContext } from './command.js';

const DEFAULT_SOURCE = 'threadline:exec';

export const execCommand: Command = {
  path: ['exec'],
  summary: 'run a one-off command (migrations, seeds) whose database writes are attributed to --actor',
  usage: 'threadline exec --actor type:id [--source S] [--correlation-id ID] -- <command…>',
  options: {
    actor: {
      type: 'string',
      value: 'type:id',
      description: 'who the writes are attributed to, e.g. system:migrations',
    },
    source: {
      type: 'string',
      value: 'S',
      description: `the source recorded on audit transactions (default ${DEFAULT_SOURCE})`,
    },
    'correlation-id': {
      type: 'string',
      value: 'ID',
      description: 'correlation id of every write (default: a new UUID, printed on stderr)',
    },
  },
  positionals: [{ name: 'command', rest: true }],
  details: [
    'The command runs with PGOPTIONS set for it alone: -c threadline.actor_ref=… -c threadline.context=…',
    'Every PostgreSQL connection it opens (libpq tools such as psql, node-postgres, so Knex, TypeORM,',
    "Prisma's and most drivers) starts with that session-level binding, which the capture triggers read.",
    'A transaction that binds its own context (an adapter, SET LOCAL) overrides it for that transaction.',
    "The exit code is the command's. Example:",
    '  threadline exec --actor system:migrations -- npx typeorm migration:run -d dist/data-source.js',
  ].join('\n'),
  run,
};

async function run(ctx: CommandContext): Promise<number> {
  const [program, ...args] = ctx.positionals;
  if (program === undefined) throw ctx.usageError('missing <command>: put it after --');
  const raw = ctx.flags.actor as string | undefined;
  if (raw === undefined) throw ctx.usageError('--actor is required, e.g. --actor system:migrations');
  const actor = ActorRef.fromString(raw);
  const source = (ctx.flags.source as string | undefined) ?? DEFAULT_SOURCE;
  const correlationId = (ctx.flags['correlation-id'] as string | undefined) ?? randomUUID();
  // Core's rules for source and ids (length, control characters): INVALID_CONTEXT, exit 2.
  runWithAuditContext({ actor, source, correlationId }, () => undefined);
  const options = [
    `-c threadline.actor_ref=${pgOptionValue(ActorRef.toJSON(actor))}`,
    `-c threadline.context=${pgOptionValue(JSON.stringify({ source, correlationId }))}`,
  ].join(' ');
  const inherited = process.env.PGOPTIONS?.trim();
  const env = { ...process.env, PGOPTIONS: inherited ? `${inherited} ${options}` : options };
  if (!ctx.json)
    ctx.out.note(
      `threadline exec: ${ActorRef.format(actor)}, source ${source}, correlation id ${correlationId}`,
    );
  return runChild(program, args, env, ctx.cwd);
}

/**
 * A value inside PGOPTIONS: the server splits the string on spaces and reads a backslash as
 * "take the next character literally", so both are escaped.
 */
function pgOptionValue(value: string): string {
  return value.replace(/[\\ ]/g, (c) => `\\${c}`);
}

function runChild(
  program: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  cwd: string,
): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { cwd, env, stdio: 'inherit' });
    const forward = (signal: NodeJS.Signals) => child.kill(signal);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const done = () => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
    };
    child.once('error', (error) => {
      done();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      reject(
        new ThreadlineError(
          missing ? 'NOT_FOUND' : 'CALLBACK_FAILED',
          missing
            ? `threadline exec: command "${program}" not found; is it installed and on PATH (e.g. npx ${program})?`
            : `threadline exec: could not start "${program}" (${error.message})`,
        ),
      );
    });
    child.once('exit', (code, signal) => {
      done();
      // A child killed by a signal exits like a shell reports it: 128 + the signal number.
      resolve(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15));
    });
  });
}
