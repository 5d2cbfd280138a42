import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli, tempDir } from './helpers.js';

/** `install --json` prints the schema it would install, which shows which config was read. */
async function schemaFrom(cwd: string, args: string[] = []) {
  const run = await runCli(['install', '--json', ...args], { cwd });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout).schema as string;
}

describe('config loading', () => {
  beforeAll(() => ensureBuilt());

  it('reads threadline.config.ts written with defineConfig', async () => {
    const cwd = tempDir({
      'threadline.config.ts': `import { defineConfig, type ThreadlineConfig } from '@threadline/cli';
const tables: ThreadlineConfig['tables'] = { posts: { mask: ['email'] } };
export default defineConfig({ schema: 'audit_ts', tables });
`,
    });
    expect(await schemaFrom(cwd)).toBe('audit_ts');
  });

  it('reads threadline.config.mjs, .js and .json', async () => {
    expect(
      await schemaFrom(tempDir({ 'threadline.config.mjs': `export default { schema: 'audit_mjs' };\n` })),
    ).toBe('audit_mjs');
    expect(
      await schemaFrom(tempDir({ 'threadline.config.js': `module.exports = { schema: 'audit_js' };\n` })),
    ).toBe('audit_js');
    expect(await schemaFrom(tempDir({ 'threadline.config.json': `{ "schema": "audit_json" }` }))).toBe(
      'audit_json',
    );
  });

  it('takes the first file in the order ts, mjs, js, json', async () => {
    const cwd = tempDir({
      'threadline.config.json': `{ "schema": "from_json" }`,
      'threadline.config.mjs': `export default { schema: 'from_mjs' };`,
    });
    expect(await schemaFrom(cwd)).toBe('from_mjs');
  });

  it('runs with defaults when there is no config file', async () => {
    expect(await schemaFrom(tempDir())).toBe('threadline');
  });

  it('reads --config PATH, relative to the working directory', async () => {
    const cwd = tempDir({
      'conf/other.json': `{ "schema": "audit_other" }`,
      'threadline.config.json': `{ "schema": "x" }`,
    });
    expect(await schemaFrom(cwd, ['--config', 'conf/other.json'])).toBe('audit_other');
  });

  it('lets --schema override the config schema', async () => {
    const cwd = tempDir({ 'threadline.config.json': `{ "schema": "from_config" }` });
    expect(await schemaFrom(cwd, ['--schema', 'from_flag'])).toBe('from_flag');
  });

  it('fails with exit 2 when --config names a missing file', async () => {
    const run = await runCli(['install', '--config', 'nope.json']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/^threadline: --config nope\.json: no such file/);
  });

  it('rejects unknown top-level keys and names the known ones', async () => {
    const cwd = tempDir({ 'threadline.config.json': `{ "tabels": {} }` });
    const run = await runCli(['install'], { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'threadline.config.json: unknown key "tabels"; the known keys are schema, tables, health, verifyCoverage, retention, storage',
    );
  });

  it('validates tables with the same rules as core', async () => {
    const cwd = tempDir({
      'threadline.config.json': `{ "tables": { "posts": { "exclude": ["email"], "mask": ["email"] } } }`,
    });
    const run = await runCli(['install'], { cwd });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /threadline\.config\.json: tables\["posts"\]: column\(s\) email are in both exclude and mask/,
    );
  });

  it('rejects a bad schema, non-object sections, invalid JSON and a config that throws', async () => {
    const cases: Record<string, RegExp> = {
      '{ "schema": "" }': /schema must be a non-empty string/,
      '{ "health": [] }': /health must be an object/,
      '{ "retention": 5 }': /retention must be an object/,
      '[1]': /must export an object/,
      '{ schema: 1 }': /threadline\.config\.json is not valid JSON/,
    };
    for (const [json, message] of Object.entries(cases)) {
      const run = await runCli(['install'], { cwd: tempDir({ 'threadline.config.json': json }) });
      expect(run.code, json).toBe(2);
      expect(run.stderr, json).toMatch(message);
    }
    const broken = await runCli(['install'], {
      cwd: tempDir({ 'threadline.config.mjs': `throw new Error('boom');` }),
    });
    expect(broken.code).toBe(2);
    expect(broken.stderr).toContain('threadline.config.mjs could not be loaded: boom');
    expect(broken.stderr).not.toMatch(/\n\s+at /);
  });
});
