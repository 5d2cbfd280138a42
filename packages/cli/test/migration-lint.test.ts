import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import js from '@eslint/js';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

// Twelve tables, two schemas: the kind of list that used to give unreadable, hashed class names.
const TABLES = [
  'users',
  'sessions',
  'follows',
  'articles',
  'comments',
  'tags',
  'article_tags',
  'favorites',
  'profiles',
  'billing.invoices',
  'billing.payments',
  'audit_exports',
];
const CONFIG = JSON.stringify({ tables: Object.fromEntries(TABLES.map((t) => [t, {}])) });

async function generate(format: 'typeorm' | 'knex'): Promise<{ dir: string; files: string[] }> {
  const cwd = tempDir({ 'threadline.config.json': CONFIG });
  for (const command of ['install', 'gen-triggers']) {
    const run = await runCli([command, '--out', 'migrations', '--format', format], { cwd });
    expect(run.code, run.stderr).toBe(0);
  }
  const dir = join(cwd, 'migrations');
  return { dir, files: readdirSync(dir).sort() };
}

/**
 * ESLint's and typescript-eslint's recommended presets plus typescript-eslint's stylistic one, as
 * a Node project applies them (its .cjs files are CommonJS: typescript-eslint's base says module).
 */
function eslint(dir: string): ESLint {
  return new ESLint({
    cwd: dir,
    overrideConfigFile: true,
    overrideConfig: [
      js.configs.recommended,
      ...tseslint.configs.recommended,
      ...tseslint.configs.stylistic,
      { files: ['**/*.cjs'], languageOptions: { sourceType: 'commonjs' } },
    ],
  });
}

function problems(results: ESLint.LintResult[]): string[] {
  return results.flatMap((r) =>
    r.messages.map((m) => `${r.filePath.split('/').pop()}:${m.line} ${m.ruleId ?? 'parse'}: ${m.message}`),
  );
}

it('generated TypeORM migrations pass ESLint + typescript-eslint recommended and stylistic, with readable class names', async () => {
  const { dir, files } = await generate('typeorm');
  expect(files).toEqual([
    expect.stringMatching(/^\d{13}-ThreadlineInstall\.ts$/),
    expect.stringMatching(/^\d{13}-ThreadlineTriggersUsersSessionsAnd10More\.ts$/),
  ]);
  const triggers = readFileSync(join(dir, files[1]!), 'utf8');
  expect(triggers).toMatch(
    /^export class ThreadlineTriggersUsersSessionsAnd10More\d{13} implements MigrationInterface \{$/m,
  );
  expect(triggers).toMatch(/^ {2}name = 'ThreadlineTriggersUsersSessionsAnd10More\d{13}';$/m);
  const results = await eslint(dir).lintFiles(files);
  expect(problems(results)).toEqual([]);
  expect(results.map((r) => r.errorCount + r.warningCount)).toEqual([0, 0]);
});

it('generated Knex migrations pass ESLint recommended', async () => {
  const { dir, files } = await generate('knex');
  expect(files).toEqual([
    expect.stringMatching(/^\d{14}_threadline_install\.cjs$/),
    expect.stringMatching(/^\d{14}_threadline_triggers_users_sessions_and_10_more\.cjs$/),
  ]);
  const results = await eslint(dir).lintFiles(files);
  expect(problems(results)).toEqual([]);
  expect(results.map((r) => r.errorCount + r.warningCount)).toEqual([0, 0]);
});
