import { beforeAll, expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql, tempDir } from './helpers.js';

describeWithDatabase('threadline health, verify-coverage, policy and continuity', (db) => {
  const env = () => ({ DATABASE_URL: db().url });
  const config = (value: unknown) => tempDir({ 'threadline.config.json': JSON.stringify(value) });

  it('says to install first on a database without Threadline (exit 1)', async () => {
    const run = await runCli(['health', 'coverage'], { env: env() });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^threadline: health\.coverage: Threadline is not installed in schema "threadline".*threadline install --apply/,
    );
    const policy = await runCli(['policy', 'show'], { env: env() });
    expect(policy.code).toBe(1);
    expect(policy.stderr).toMatch(/policy\.show: Threadline is not installed/);
  });

  beforeAll(async () => {
    await db().pool.query(`
      CREATE SCHEMA app;
      CREATE TABLE app.users (id int PRIMARY KEY, email text, name text);
      CREATE TABLE app.orders (id int PRIMARY KEY, total int);
      CREATE TABLE app.knex_migrations (id int PRIMARY KEY, name text);
      CREATE TABLE app.sessions (id int PRIMARY KEY);
      INSERT INTO app.users SELECT g, 'u' || g || '@secret.example', 'n' || g FROM generate_series(1, 7) g;`);
  });

  const tables = { 'app.users': { mask: ['email'] }, 'app.orders': {} };

  it('health coverage: a table for people, the core object with --json, and --strict fails on an error finding', async () => {
    const cwd = config({ tables, health: { expectedUncoveredTables: ['app.sessions'] } });
    expect((await runCli(['install', '--apply'], { env: env(), cwd })).code).toBe(0);
    expect((await runCli(['gen-triggers', '--apply'], { env: env(), cwd })).code).toBe(0);
    const run = await runCli(['health', 'coverage', '--schema', 'app'], { env: env(), cwd });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const lines = run.stdout.split('\n');
    expect(lines[0]).toBe('schema app');
    expect(lines[1]).toMatch(/^table\s+status\s+source$/);
    expect(lines.slice(3, 7).map((l) => l.split(/\s+/).join(' '))).toEqual([
      'orders covered',
      'users covered',
      'knex_migrations expected baseline',
      'sessions expected config',
    ]);
    expect(run.stdout).toContain('Coverage: 2 covered, 0 uncovered, 2 expected uncovered\nFindings: none\n');
    const json = await runCli(['health', 'coverage', '--schema', 'app', '--json'], { env: env(), cwd });
    expect(JSON.parse(json.stdout)).toMatchObject({
      schemas: [
        {
          schema: 'app',
          covered: ['orders', 'users'],
          uncovered: [],
          expectedUncovered: [
            { table: 'knex_migrations', source: 'baseline' },
            { table: 'sessions', source: 'config' },
          ],
        },
      ],
      findings: [],
    });
    await sql(db(), 'ALTER TABLE app.orders DISABLE TRIGGER threadline_capture_insert');
    try {
      const lenient = await runCli(['health', 'coverage', '--schema', 'app'], { env: env(), cwd });
      expect(lenient.code).toBe(0);
      expect(lenient.stdout).toContain(
        'ALTER TABLE "app"."orders" ENABLE TRIGGER "threadline_capture_insert";',
      );
      const strict = await runCli(['health', 'coverage', '--schema', 'app', '--strict', '--json'], {
        env: env(),
        cwd,
      });
      expect(strict.code).toBe(1);
      expect(JSON.parse(strict.stdout).findings.map((f: { code: string }) => f.code)).toEqual([
        'capture_trigger_disabled',
      ]);
      const gate = await runCli(['verify-coverage'], {
        env: env(),
        cwd: config({
          tables,
          verifyCoverage: { expectedTables: ['app.users', 'app.orders', 'app.missing'] },
        }),
      });
      expect(gate.code).toBe(1);
      const gateLines = gate.stdout.split('\n').map((l) => l.split(/\s+/).join(' '));
      expect(gateLines.slice(0, 5)).toEqual([
        'table status errors',
        expect.stringMatching(/^─+ ─+ ─+$/),
        'app.users covered -',
        'app.orders uncovered capture_trigger_disabled',
        'app.missing missing -',
      ]);
      expect(gate.stdout).toContain('summary: 1/3 expected tables covered (2 violated)');
      expect(gate.stderr).toContain('verify-coverage: FAILED');
    } finally {
      await sql(db(), 'ALTER TABLE app.orders ENABLE TRIGGER threadline_capture_insert');
    }
    const ok = await runCli(['verify-coverage', '--json'], {
      env: env(),
      cwd: config({ tables, verifyCoverage: { expectedTables: ['app.users', 'app.orders'] } }),
    });
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({
      ok: true,
      tables: [
        { table: 'app.users', status: 'covered', errors: [] },
        { table: 'app.orders', status: 'covered', errors: [] },
      ],
      findings: [],
    });
  });

  it('rejects hostile and broken input with a clear error (exit 2 for usage and config)', async () => {
    const cases: [string[], unknown, RegExp][] = [
      [
        ['health', 'coverage', '--schema', `no"such'schema`],
        { tables },
        /schema "no\\"such'schema" does not exist/,
      ],
      [
        ['health', 'coverage', '--schema', 'app', '--all-schemas'],
        { tables },
        /--schema and --all-schemas are alternatives/,
      ],
      [
        ['health', 'coverage'],
        { health: { expectedUncovered: ['x'] } },
        /health: unknown key "expectedUncovered"; the known keys are expectedUncoveredTables, auditAnyway/,
      ],
      [
        ['health', 'coverage'],
        { health: { auditAnyway: [42] } },
        /health\.auditAnyway: entry 0 must be a table name string, got a number/,
      ],
      [
        ['health', 'coverage'],
        { health: { expectedUncoveredTables: ['a'], auditAnyway: ['a'] } },
        /health: a is in both expectedUncoveredTables and auditAnyway/,
      ],
      [['verify-coverage'], { tables }, /verify-coverage needs verifyCoverage: \{ expectedTables/],
      [
        ['verify-coverage'],
        { verifyCoverage: { expectedTables: [] } },
        /verifyCoverage\.expectedTables: must list at least one table/,
      ],
      [['verify-coverage'], { verifyCoverage: { tables: ['a'] } }, /verifyCoverage: unknown key "tables"/],
      [['continuity', 'baseline'], { tables }, /--table T is required/],
      [
        ['continuity', 'baseline', '--table', 'app.users', '--batch-size', '0'],
        { tables },
        /--batch-size must be a whole number/,
      ],
      [['health'], { tables }, /"health" needs a subcommand; use "health coverage"/],
    ];
    for (const [argv, value, message] of cases) {
      const run = await runCli(argv, { env: env(), cwd: config(value) });
      expect(run.stderr, argv.join(' ')).toMatch(message);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stdout).toBe('');
    }
  });

  it('policy show: matches, and --strict exits 1 on drift; never prints a captured value', async () => {
    const cwd = config({ tables });
    const run = await runCli(['policy', 'show'], { env: env(), cwd });
    expect(run.code).toBe(0);
    const rows = run.stdout.split('\n').map((l) => l.split(/\s{2,}/).join('|'));
    expect(rows[2]).toBe('app.orders|matches|-|-|-|-');
    expect(rows[3]).toBe('app.users|matches|-|email|-|email');
    const drift = await runCli(['policy', 'show', '--strict', '--json'], {
      env: env(),
      cwd: config({ tables: { 'app.users': { mask: ['email', 'name'] }, 'app.orders': {} } }),
    });
    expect(drift.code).toBe(1);
    const report = JSON.parse(drift.stdout);
    expect(report.tables[1]).toMatchObject({
      table: 'app.users',
      state: 'drift',
      differences: [{ field: 'mask', configured: ['email', 'name'], deployed: ['email'] }],
    });
    expect(drift.stdout).not.toContain('secret.example');
  });

  it('continuity reports the gap, baseline records it with progress on a TTY, and a rerun records nothing', async () => {
    const cwd = config({ tables });
    const before = await runCli(['continuity', '--table', 'app.users', '--json'], { env: env(), cwd });
    expect(before.code).toBe(0);
    expect(JSON.parse(before.stdout).tables[0]).toMatchObject({
      table: 'app.users',
      status: 'gap',
      rowsNow: 7,
      rowsWithoutHistory: 7,
    });
    const run = await runCli(['continuity', 'baseline', '--table', 'app.users', '--batch-size', '3'], {
      env: env(),
      cwd,
      tty: true,
    });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('app.users: 7 baseline row(s) recorded, 0 already had history (3 batch(es))\n');
    expect(run.stderr).toContain('baseline 3/3 app.users: 7/7 rows read, 7 recorded');
    const again = await runCli(['continuity', 'baseline', '--table', 'app.users', '--json'], {
      env: env(),
      cwd,
    });
    expect(JSON.parse(again.stdout)).toMatchObject({ recorded: 0, scanned: 7, batches: 1 });
    const [tx] = await sql<{ source: string; actor_ref: unknown; n: number }>(
      db(),
      "SELECT t.source, t.actor_ref, count(*)::int AS n FROM threadline.audit_changes c JOIN threadline.audit_transactions t ON t.id = c.transaction_id WHERE c.op = 'baseline' GROUP BY 1, 2",
    );
    expect(tx).toEqual({
      source: 'threadline:baseline',
      actor_ref: { type: 'system', id: 'threadline-cli' },
      n: 7,
    });
    const after = await runCli(['continuity'], { env: env(), cwd });
    expect(after.stdout.split('\n')[2]).toMatch(/^app\.orders\s+complete\s+\S+\s+0\s+0\s+-$/);
    expect(after.stdout.split('\n')[3]).toMatch(/^app\.users\s+complete\s+\S+\s+7\s+0\s+\d{4}-/);
  });
});
