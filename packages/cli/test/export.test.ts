import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { parse } from 'csv-parse/sync';
import { beforeAll, expect, it } from 'vitest';
import { BIN, describeWithDatabase, ensureBuilt, runCli, sql, tempDir } from './helpers.js';

const HEADER =
  'id,transaction_id,table_schema,table_name,op,captured_at,table_pk,data_after,data_before,changed_fields,changed_from,actor_type,actor_id,correlation_id,request_id,job_id,source,action_name';

describeWithDatabase('threadline export', (db) => {
  const cli = (argv: string[], cwd?: string) =>
    runCli(argv, { env: { DATABASE_URL: db().url }, ...(cwd ? { cwd } : {}) });

  beforeAll(async () => {
    await db().pool.query(
      'create table items (id int primary key, name text); create table other (id int primary key)',
    );
    const tl = createThreadline({ db: db().pool });
    await tl.install();
    await tl.installTriggers({ tables: ['items', 'other'] });
    await runWithAuditContext({ actor: ActorRef.user('=alice'), correlationId: 'corr-1' }, async () => {
      for (let i = 1; i <= 20; i++)
        await tl.query('insert into items values ($1, $2)', [i, `item, "${i}"\n`]);
    });
    await tl.query('insert into other values (1)');
  });

  it('--out FILE writes the CSV atomically and reports it; the export is recorded for the CLI user', async () => {
    const dir = tempDir();
    const run = await cli(['export', '--format', 'csv', '--out', 'items.csv', '--table', 'items'], dir);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const target = join(dir, 'items.csv');
    const text = readFileSync(target, 'utf8');
    expect(run.stdout).toBe(`wrote 20 changes (${Buffer.byteLength(text)} bytes) to ${target}\n`);
    expect(readdirSync(dir)).toEqual(['items.csv']);
    const records = parse(text) as string[][];
    expect(records[0]!.join(',')).toBe(HEADER);
    expect(records.slice(1).map((r) => JSON.parse(r[6]!).id)).toEqual(
      Array.from({ length: 20 }, (_, i) => 20 - i),
    );
    expect(records.slice(1).every((r) => r[12] === "'=alice")).toBe(true);
    const actions = await sql<{ actor: string; comment: string }>(
      db(),
      `select actor_ref->>'type' || ':' || (actor_ref->>'id') as actor, comment from threadline.audit_actions where name = 'threadline.export'`,
    );
    expect(actions.length).toBe(1);
    expect(actions[0]!.actor).toMatch(/^system:threadline-cli:.+$/);
    expect(JSON.parse(actions[0]!.comment)).toEqual({
      format: 'csv',
      filters: { table: 'items' },
      row_count: 20,
      truncated: false,
    });
  });

  it('--out - streams NDJSON to stdout; --no-formula-guard; --max-rows truncates with a note', async () => {
    const run = await cli([
      'export',
      '--format',
      'ndjson',
      '--out',
      '-',
      '--table',
      'items',
      '--max-rows',
      '3',
    ]);
    expect(run.code).toBe(0);
    const lines = run.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { actor_id: string; table_pk: { id: number } });
    expect(lines.map((l) => l.table_pk.id)).toEqual([20, 19, 18]);
    expect(lines[0]!.actor_id).toBe('=alice');
    expect(run.stderr).toBe(
      'threadline: stopped after 3 changes (--max-rows 3); more match: pass --all for every change or a larger --max-rows\n',
    );
    const raw = await cli([
      'export',
      '--format',
      'csv',
      '--out',
      '-',
      '--all',
      '--no-formula-guard',
      '--table',
      'items',
    ]);
    expect(raw.code).toBe(0);
    const rows = (parse(raw.stdout) as string[][]).slice(1);
    expect(rows.length).toBe(20);
    expect(rows.every((r) => r[12] === '=alice')).toBe(true);
  });

  it('--json prints a summary; --dry-run prints the count', async () => {
    const dir = tempDir();
    const run = await cli(['export', '--format', 'json', '--out', 'all.json', '--all', '--json'], dir);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    const doc = JSON.parse(readFileSync(join(dir, 'all.json'), 'utf8'));
    expect(summary).toEqual({
      format: 'json',
      out: join(dir, 'all.json'),
      rowCount: doc.changes.length,
      bytes: readFileSync(join(dir, 'all.json')).length,
      truncated: false,
    });
    expect(doc.changes.length).toBe(21);
    expect((await cli(['export', '--dry-run', '--table', 'items'])).stdout).toBe('20 changes match\n');
    expect(JSON.parse((await cli(['export', '--dry-run', '--json', '--max-rows', '5'])).stdout)).toEqual({
      count: 5,
      capped: true,
    });
  });

  it('progress goes to stderr on a TTY and is cleared', async () => {
    const dir = tempDir();
    const run = await runCli(['export', '--format', 'csv', '--out', 'p.csv', '--all'], {
      env: { DATABASE_URL: db().url },
      cwd: dir,
      tty: true,
    });
    expect(run.code).toBe(0);
    expect(run.stderr === '' || run.stderr.endsWith('\r\x1b[2K')).toBe(true);
  });

  it('bad input is a usage error (exit 2) and nothing is written', async () => {
    const dir = tempDir();
    const cases: [string[], string][] = [
      [['--format', 'xml', '--out', 'x'], 'threadline: --format must be csv, json or ndjson, got "xml"'],
      [
        ['--format', 'csv', '--out', 'x', '--max-rows', '0'],
        'threadline: --max-rows must be a whole number of at least 1, got "0"',
      ],
      [
        ['--format', 'csv', '--out', 'x', '--max-rows', '5', '--all'],
        'threadline: pass either --max-rows N or --all, not both',
      ],
      [['--format', 'csv'], 'threadline: --out is required: a file path, or - for stdout (or use --dry-run)'],
      [['--out', 'x'], 'threadline: --format is required: csv, json or ndjson'],
      [
        ['--format', 'csv', '--out', '-', '--json'],
        'threadline: --json prints a summary on stdout, which --out - uses for the data; write to a file with --out FILE',
      ],
      [
        ['--format', 'csv', '--out', 'missing/x.csv'],
        `threadline: --out: directory ${join(dir, 'missing')} does not exist; create it first or choose another path`,
      ],
      [
        ['--format', 'csv', '--out', 'x', '--from', 'yesterday'],
        'threadline: timeline: from must be a Date or an ISO 8601 timestamp like 2026-11-28T14:00:00Z, got "yesterday"',
      ],
      [
        ['--format', 'csv', '--out', 'x', '--actor', 'nobody'],
        'threadline: timeline: actor ActorRef.fromString: expected "type:id" (for example "user:42"), got "nobody" (use ActorRef.user(id) or "type:id")',
      ],
    ];
    for (const [argv, message] of cases) {
      const run = await cli(['export', ...argv], dir);
      expect([run.code, run.stderr.split('\n')[0]], argv.join(' ')).toEqual([2, message]);
      expect(run.stdout).toBe('');
    }
    const unknown = await cli(['export', '--format', 'csv', '--out', 'x', '--tabel', 'items'], dir);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.split('\n')[0]).toMatch(/^threadline: unknown option "--tabel"/);
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked');
      mkdirSync(locked);
      chmodSync(locked, 0o500);
      const run = await cli(['export', '--format', 'csv', '--out', 'locked/x.csv'], dir);
      expect([run.code, run.stderr.split('\n')[0]]).toEqual([
        2,
        `threadline: --out: directory ${locked} is not writable; choose a path you can write to`,
      ]);
      chmodSync(locked, 0o700);
    }
    expect(readdirSync(dir).filter((f) => f !== 'locked')).toEqual([]);
  });

  it('a failed export leaves the target untouched and no temporary file', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'keep.csv'), 'previous export');
    // The database goes away: a wrong database name fails after the file checks passed.
    const run = await runCli(['export', '--format', 'csv', '--out', 'keep.csv', '--all'], {
      env: { DATABASE_URL: db().url.replace(/\/[^/]+$/, '/tl_no_such_database') },
      cwd: dir,
    });
    expect(run.code).toBe(2);
    expect(readFileSync(join(dir, 'keep.csv'), 'utf8')).toBe('previous export');
    expect(readdirSync(dir)).toEqual(['keep.csv']);
  });

  it('an interrupted export (SIGINT to the real process) leaves nothing half-written', async () => {
    ensureBuilt();
    const tl = createThreadline({ db: db().pool });
    await db().pool.query(`create table bulk (id int primary key, body text)`);
    await tl.installTriggers({ tables: ['bulk'] });
    await db().pool.query(`insert into bulk select g, repeat('y', 2000) from generate_series(1, 20000) g`);
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      [BIN, 'export', '--format', 'ndjson', '--out', 'big.ndjson', '--all', '--table', 'bulk'],
      {
        cwd: dir,
        env: { ...process.env, DATABASE_URL: db().url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // Interrupt once the temporary file exists and has data.
    for (let i = 0; i < 600; i++) {
      const temp = readdirSync(dir).find((f) => f.endsWith('.tmp'));
      if (temp && readFileSync(join(dir, temp)).length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(readdirSync(dir)).toEqual([]);
    expect(existsSync(join(dir, 'big.ndjson'))).toBe(false);
  });

  it('a reader that goes away (| head): the export stops, exits 0, and is recorded as stopped with the rows sent', async () => {
    ensureBuilt();
    const tl = createThreadline({ db: db().pool });
    await db().pool.query(`create table piped (id int primary key, body text)`);
    await tl.installTriggers({ tables: ['piped'] });
    await db().pool.query(`insert into piped select g, repeat('p', 500) from generate_series(1, 20000) g`);
    const child = spawn(
      process.execPath,
      [BIN, 'export', '--format', 'ndjson', '--out', '-', '--all', '--table', 'piped'],
      { env: { ...process.env, DATABASE_URL: db().url }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    // Like `head -1`: read the first line, then close the pipe.
    await new Promise<void>((resolve) => {
      child.stdout.once('data', () => {
        child.stdout.destroy();
        resolve();
      });
    });
    const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    expect(code).toBe(0);
    expect(stderr).toBe('');
    const actions = await sql<{ status: string; comment: string }>(
      db(),
      `select status, comment from threadline.audit_actions where name = 'threadline.export' and comment::jsonb->'filters'->>'table' = 'piped'`,
    );
    expect(actions.map((a) => a.status)).toEqual(['error']);
    const rowCount = (JSON.parse(actions[0]!.comment) as { row_count: number }).row_count;
    expect(rowCount).toBeGreaterThan(0);
    expect(rowCount).toBeLessThan(20000);
  });
});
