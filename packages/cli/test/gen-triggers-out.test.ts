import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers.js';

describe('gen-triggers --out (no database needed)', () => {
  it('writes a trigger migration per format that calls the in-database generator', async () => {
    const cwd = tempDir({
      'threadline.config.json': JSON.stringify({ tables: { posts: { mask: ['email'] } } }),
    });
    const names = {
      sql: /^\d{14}_threadline_triggers_posts\.sql$/,
      knex: /^\d{14}_threadline_triggers_posts\.cjs$/,
      typeorm: /^\d{13}-ThreadlineTriggersPosts\.ts$/,
    };
    for (const [format, pattern] of Object.entries(names)) {
      const run = await runCli(['gen-triggers', '--out', format, '--format', format], { cwd });
      expect(run.code, run.stderr).toBe(0);
      const [file] = readdirSync(join(cwd, format));
      expect(file).toMatch(pattern);
      expect(run.stdout).toBe(`${join(format, file!)}\n`);
      const text = readFileSync(join(cwd, format, file!), 'utf8');
      expect(text).toContain('enable_capture(');
      expect(text).toContain('email');
    }
  });

  it('warns when the directory holds no install migration to run first', async () => {
    const cwd = tempDir();
    const alone = await runCli(['gen-triggers', '--out', 'm', '--tables', 'posts'], { cwd });
    expect(alone.stderr).toContain('note: m holds no Threadline install migration');
    const other = tempDir();
    expect((await runCli(['install', '--out', 'm'], { cwd: other })).code).toBe(0);
    const after = await runCli(['gen-triggers', '--out', 'm', '--tables', 'posts'], { cwd: other });
    expect(after.code).toBe(0);
    expect(after.stderr).not.toContain('note:');
    const files = readdirSync(join(other, 'm')).sort();
    expect(files[0]).toMatch(/_threadline_install\.sql$/);
    expect(files[1]).toMatch(/_threadline_triggers_posts\.sql$/);
  });

  it('prints the file, format and exact table names as JSON', async () => {
    const cwd = tempDir();
    const run = await runCli(
      ['gen-triggers', '--out', 'm', '--json', '--schema', 'audit', '--tables', 'Posts,"a.b"."c,d"'],
      { cwd },
    );
    expect(run.code).toBe(0);
    const doc = JSON.parse(run.stdout);
    expect(doc).toEqual({
      kind: 'triggers',
      format: 'sql',
      schema: 'audit',
      file: expect.stringMatching(/\/m\/\d{14}_threadline_triggers_\S+\.sql$/),
      tables: [
        { schema: 'public', name: 'Posts' },
        { schema: 'a.b', name: 'c,d' },
      ],
    });
    const text = readFileSync(doc.file, 'utf8');
    expect(text).toContain(`SELECT "audit".enable_capture('public', 'Posts',`);
    expect(text).toContain(`SELECT "audit".enable_capture('a.b', 'c,d',`);
  });

  it('rejects a table listed twice', async () => {
    const run = await runCli(['gen-triggers', '--out', 'm', '--tables', 'posts,public.posts']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--tables: posts is listed more than once');
  });
});
