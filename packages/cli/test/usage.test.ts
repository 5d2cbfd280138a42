import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

describe('usage', () => {
  it('prints the command list for --help and a command page for <command> --help', async () => {
    const top = await runCli(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('install');
    expect(top.stdout).toContain('gen-triggers');
    const page = await runCli(['gen-triggers', '-h']);
    expect(page.code).toBe(0);
    expect(page.stdout).toMatch(/^usage: threadline gen-triggers/);
    expect(page.stdout).toContain('--dry-run');
    expect(page.stdout).toContain('--show-sql');
  });

  it('prints the version', async () => {
    const run = await runCli(['--version']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });

  it('exits 2 with the usage line for an unknown flag, command or missing command', async () => {
    const flag = await runCli(['install', '--aply']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe(
      'threadline: unknown option "--aply"\nusage: threadline install [--schema S] [--apply | --out DIR --format sql|knex|typeorm] [--json]\n',
    );
    const command = await runCli(['instal']);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('unknown command "instal"; the commands are install, gen-triggers');
    expect(command.stderr).toContain('usage: threadline <command>');
    expect((await runCli([])).code).toBe(2);
    expect((await runCli(['--bogus', 'install'])).code).toBe(2);
  });

  it('accepts global options before the command name', async () => {
    const run = await runCli(['--schema', 'early', '--json', 'install']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).schema).toBe('early');
  });

  it('rejects flags that contradict each other or miss a value', async () => {
    const cases: [string[], RegExp][] = [
      [['install', '--apply', '--out', 'x'], /--apply and --out are alternatives/],
      [['install', '--format', 'knex'], /--format only applies with --out DIR/],
      [['install', '--out', 'x', '--format', 'flyway'], /--format must be one of sql, knex, typeorm/],
      [['install', '--out'], /--out needs a value/],
      [['install', '--schema', ''], /--schema needs a schema name/],
      [['install', 'extra'], /unexpected argument "extra"/],
      [['gen-triggers', '--tables', 'posts'], /say what to do: --dry-run .*--apply .*--out DIR/],
      [
        ['gen-triggers', '--dry-run', '--apply', '--tables', 'posts'],
        /--dry-run and --apply are alternatives/,
      ],
      [['gen-triggers', '--apply', '--show-sql', '--tables', 'posts'], /--show-sql works with --dry-run/],
      [['gen-triggers', '--dry-run'], /no tables to capture: pass --tables/],
      [['gen-triggers', '--dry-run', '--tables', '"posts'], /unterminated double quote/],
      [['gen-triggers', '--dry-run', '--tables', 'a.b.c'], /is not NAME or SCHEMA\.NAME/],
    ];
    for (const [argv, message] of cases) {
      const run = await runCli(argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr, argv.join(' ')).toMatch(message);
      expect(run.stdout, argv.join(' ')).toBe('');
    }
  });

  it('asks for a database URL when a command needs one and none is set', async () => {
    const run = await runCli(['install', '--apply']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'set DATABASE_URL or pass --database-url postgres://USER:PASSWORD@HOST:5432/DATABASE',
    );
  });

  it('prints the install SQL on stdout and a hint on stderr', async () => {
    const run = await runCli(['install']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^BEGIN;\n/);
    expect(run.stdout).toMatch(/COMMIT;\n$/);
    expect(run.stdout).toContain('CREATE SCHEMA IF NOT EXISTS "threadline"');
    expect(run.stderr).toMatch(/^hint: .*install --apply/);
  });

  it('never prints a stack trace unless THREADLINE_DEBUG=1', async () => {
    const quiet = await runCli(['install', '--apply', '--database-url', 'nope']);
    expect(quiet.stderr).not.toMatch(/\n\s+at /);
    const debug = await runCli(['install', '--apply', '--database-url', 'nope'], {
      env: { THREADLINE_DEBUG: '1' },
    });
    expect(debug.stderr).toMatch(/\n\s+at /);
  });
});
