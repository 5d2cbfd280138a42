import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '@threadline/core';
import { beforeAll, expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql } from './helpers.js';

describeWithDatabase('threadline revert', (db) => {
  let tl: Threadline;
  const cli = (...argv: string[]) => runCli(argv, { env: { DATABASE_URL: db().url } });
  const rows = async () =>
    (await sql<{ r: string }>(db(), 'select to_jsonb(t)::text as r from "Shop Items" t order by id')).map(
      (r) => r.r,
    );

  beforeAll(async () => {
    await sql(db(), `create table "Shop Items" (id int primary key, "Price" numeric(10,2), name text)`);
    await sql(db(), `insert into "Shop Items" values (1, 9.99, 'pen'), (2, 19.50, 'ink')`);
    tl = createThreadline({ db: db().pool });
    await tl.install();
    await tl.installTriggers({ tables: ['"Shop Items"'] });
  });

  async function badWrite(): Promise<string> {
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('script') }, () =>
      tl.transaction((tx) => tx.query(`update "Shop Items" set "Price" = 0`)),
    );
    return auditTransactionId!;
  }

  it('--dry-run prints the plan as a table and changes nothing; --sql prints the statements; --json the plan', async () => {
    const before = await rows();
    const id = await badWrite();
    const after = await rows();
    const run = await cli('revert', id, '--dry-run');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe(`revert audit transaction ${id}: 2 rows in 1 table (2 update)`);
    expect(lines[2]).toMatch(/^#\s+op\s+table\s+key\s+values$/);
    expect(lines.slice(4)).toEqual([
      expect.stringMatching(/^1\s+update\s+"Shop Items"\s+id=2\s+Price=19\.5$/),
      expect.stringMatching(/^2\s+update\s+"Shop Items"\s+id=1\s+Price=9\.99$/),
    ]);
    const sqlRun = await cli('revert', id, '--dry-run', '--sql');
    expect(sqlRun.stdout).toContain(
      'UPDATE "public"."Shop Items" AS t SET "Price" = s."Price" FROM jsonb_to_record($1::jsonb) AS s("Price" numeric(10,2))',
    );
    expect(sqlRun.stdout).toContain('--   $1 = {"Price":19.50}');
    const json = await cli('revert', id, '--dry-run', '--json');
    expect(JSON.parse(json.stdout).summary.ops).toEqual({ insert: 0, update: 2, delete: 0 });
    expect(await rows()).toEqual(after);
    // Apply it, attributed to the operator; the revert is itself revertable.
    const applied = await cli(
      'revert',
      id,
      '--apply',
      '--actor',
      'admin:alice',
      '--yes',
      '--reason',
      'bad script',
    );
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(
      /^reverted: 2 row\(s\) in audit transaction (\d+) \(action [0-9a-f-]{36}\); undo it with: threadline revert \1 --dry-run\n$/,
    );
    expect(await rows()).toEqual(before);
    const incident = await cli('incident', id);
    expect(incident.stdout).toMatch(/ {2}reverted by {5}admin:alice at \S+Z \(audit transaction \d+\)/);
  });

  it('exits 1 on conflicts, naming who changed the row; --force overwrites', async () => {
    const id = await badWrite();
    await runWithAuditContext({ actor: ActorRef.user('clerk') }, () =>
      tl.query(`update "Shop Items" set name = 'pencil' where id = 1`),
    );
    const run = await cli('revert', id, '--dry-run');
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^conflict \(changed_since\): "Shop Items" \{"id": 1\}: it was updated after the reverted change, by user:clerk at /,
    );
    const refused = await cli('revert', id, '--apply', '--actor', 'admin:alice', '--yes');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      'not applied: 1 conflict(s); rows changed since can be overwritten with --force',
    );
    const forced = await cli('revert', id, '--apply', '--actor', 'admin:alice', '--yes', '--force');
    expect(forced.code, forced.stderr).toBe(0);
    expect(await rows()).toEqual([
      '{"id": 1, "name": "pencil", "Price": 9.99}',
      '{"id": 2, "name": "ink", "Price": 19.50}',
    ]);
  });

  it('usage errors exit 2', async () => {
    const cases: [string[], string][] = [
      [['revert', '1'], 'choose --dry-run (show the plan) or --apply (run it)'],
      [['revert', '--dry-run'], 'name exactly one thing to revert'],
      [['revert', '1', '--correlation-id', 'c', '--dry-run'], 'name exactly one thing to revert'],
      [
        ['revert', '--table', 'x', '--pk', '1', '--dry-run'],
        'reverting one row needs all of --table, --pk and --to',
      ],
      [['revert', '1', '--apply', '--yes'], '--apply needs --actor TYPE:ID'],
      [['revert', '1', '--apply', '--actor', 'admin:a'], 'stdin is not a terminal'],
      [['revert', '1', '--apply', '--sql', '--actor', 'admin:a', '--yes'], '--sql only goes with --dry-run'],
    ];
    for (const [argv, message] of cases) {
      const run = await cli(...argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.stderr).toContain(message);
    }
  });
});
