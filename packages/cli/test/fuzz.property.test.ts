import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createThreadline } from '@threadline/core';
import { createTestDatabase, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli, tempDir } from './helpers.js';

// SPEC §13 hostile input: CLI arguments and config files, property-based. Every run ends with
// exit code 0, 1 or 2 and, on failure, one clear `threadline: ...` message: never an unexpected
// error (a crash, a raw driver error), a stack trace or a raw control character on the terminal.

const hostile = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom(
    '',
    '-',
    '--',
    '=',
    'posts',
    'public.posts',
    '"a"."b"',
    'a.b.c',
    "'; drop table posts; --",
    'user:1',
    'user:',
    'anonymous',
    '2026-02-30',
    'yesterday',
    '-1',
    '0',
    '1e999',
    '99999999999999999999',
    '{"id":1}',
    'csv',
    'x'.repeat(300),
    '\u0000',
    '\u001b[31mred',
    '\u202e',
    '\ud800',
  ),
);

/** Commands safe to fuzz (exec runs a program; it is left out). */
const COMMANDS = [
  ['install'],
  ['gen-triggers'],
  ['history'],
  ['timeline'],
  ['incident'],
  ['retention', 'purge'],
  ['retention', 'runs'],
  ['revert'],
  ['health', 'coverage'],
  ['verify-coverage'],
  ['policy', 'show'],
  ['continuity'],
  ['uninstall'],
  ['export'],
  ['no-such-command'],
];
const FLAGS = [
  '--table',
  '--tables',
  '--actor',
  '--from',
  '--to',
  '--cursor',
  '--page-size',
  '--correlation-id',
  '--request-id',
  '--job-id',
  '--transaction-id',
  '--pk',
  '--as-of',
  '--format',
  '--schema',
  '--table-schema',
  '--reason',
  '--max-rows',
  '--cutoff',
  '--unknown-flag',
];
const SWITCHES = ['--json', '--dry-run', '--strict', '--all', '--show-sql'];

const argvArb = fc
  .tuple(
    fc.constantFrom(...COMMANDS),
    fc.array(fc.tuple(fc.constantFrom(...FLAGS), hostile), { maxLength: 4 }),
    fc.subarray(SWITCHES),
    fc.array(hostile, { maxLength: 2 }),
  )
  .map(([command, flags, switches, positionals]) => [
    ...command,
    ...positionals,
    ...flags.flatMap(([flag, value]) => (value.startsWith('--') ? [`${flag}=${value}`] : [flag, value])),
    ...switches,
  ]);

function expectClearOutcome(run: { code: number; stdout: string; stderr: string }, argv: readonly string[]) {
  const where = JSON.stringify(argv);
  expect([0, 1, 2], where).toContain(run.code);
  expect(run.stderr, where).not.toMatch(/this is unexpected|\n\s+at \S+ \(|syntax error at/);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: raw controls on the terminal are the bug
  expect(run.stderr, where).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/);
  if (run.code !== 0) expect(run.stderr, where).toMatch(/^threadline: \S/);
}

describe.runIf(postgresEnabled())('CLI: fuzzed arguments and config files', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    ensureBuilt();
    db = await createTestDatabase('tl_cli_fuzz');
    await db.pool.query('create table posts (id int primary key, title text)');
    const tl = createThreadline({ db: db.pool, tables: { posts: {} } });
    await tl.install();
    await tl.installTriggers();
    await db.pool.query("insert into posts values (1, 'a'), (2, 'b')");
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('any arguments: exit 0, 1 or 2 with a clear message, never an unexpected error', async () => {
    const cwd = tempDir({ 'threadline.config.json': '{ "tables": { "posts": {} } }' });
    const codes = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(argvArb, async (argv) => {
        const run = await runCli(argv, { cwd, env: { DATABASE_URL: db.url } });
        codes.set(run.code, (codes.get(run.code) ?? 0) + 1);
        expectClearOutcome(run, argv);
      }),
      {
        numRuns: 150,
        // Well-formed invocations too, so that the database is reached, not only the parser.
        examples: [
          [['timeline', '--table', 'posts', '--json']],
          [['history', 'posts', '1']],
          [['timeline', '--actor', "user:'; drop table posts; --"]],
          [['timeline', '--table', '"posts"', '--cursor', 'eyJ2IjoxfQ']],
          [['incident', '--request-id', '\u0000']],
        ],
      },
    );
    expect(codes.get(0) ?? 0).toBeGreaterThan(0);
  }, 180_000);

  const configValue = fc.oneof(hostile, fc.jsonValue({ maxDepth: 3 }));
  const configArb = fc.oneof(
    fc.record(
      {
        schema: configValue,
        tables: fc.oneof(
          configValue,
          fc.dictionary(
            hostile,
            fc.oneof(configValue, fc.record({ mask: configValue, exclude: configValue })),
          ),
        ),
        health: configValue,
        verifyCoverage: configValue,
        retention: fc.oneof(configValue, fc.record({ keepDays: configValue }, { requiredKeys: [] })),
        other: configValue,
      },
      { requiredKeys: [] },
    ),
    fc.jsonValue({ maxDepth: 2 }),
  );
  it('any config file: a clear error naming the file, or the config is used', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          configArb.map((v) => JSON.stringify(v)),
          hostile,
        ),
        async (text) => {
          const cwd = tempDir();
          writeFileSync(join(cwd, 'threadline.config.json'), text);
          const argv = ['install', '--json'];
          const run = await runCli(argv, { cwd });
          expectClearOutcome(run, [text]);
          if (run.code !== 0) expect(run.stderr).toContain('threadline.config.json');
        },
      ),
      { numRuns: 150 },
    );
  }, 120_000);
});
