import { ActorRef, runWithAuditContext } from '@threadline/core';
import { beforeAll, expect, it } from 'vitest';
import { type ExploreFixture, HOSTILE, loadExploreFixture } from './explore-fixture.js';
import { type CliRun, describeWithDatabase, runCli, sql } from './helpers.js';

/** No raw control, C1 or bidi character in what reaches the terminal (escaped forms are fine). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are exactly what must not appear
const RAW_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

function expectTerminalSafe(run: CliRun): void {
  expect(run.stdout).not.toMatch(RAW_UNSAFE);
  expect(run.stderr).not.toMatch(RAW_UNSAFE);
}

describeWithDatabase('exploration commands', (db) => {
  let fx: ExploreFixture;
  const cli = (...argv: string[]) => runCli(argv, { env: { DATABASE_URL: db().url } });
  const json = async (...argv: string[]) => {
    const run = await cli(...argv, '--json');
    expect(run.code, run.stderr).toBe(0);
    return JSON.parse(run.stdout);
  };

  beforeAll(async () => {
    fx = await loadExploreFixture(db());
  });

  it('history prints the changes of a row, newest first, with diffs before → after; "42" matches a bigint key', async () => {
    const run = await cli('history', 'posts', '42');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^time\s+op\s+key\s+actor\s+correlation\s+tx\s+changes \(before → after\)$/);
    expect(lines.slice(2).map((l) => l.split(/\s+/)[1])).toEqual(['delete', 'update', 'update', 'insert']);
    expect(lines[2]).toMatch(/delete\s+id=42\s+user:bob\s+corr-b/);
    expect(lines[3]).toContain('status: "draft" → "published"');
    expect(lines[4]).toContain(
      'email: "[REDACTED]" (redacted) → "[REDACTED]" (redacted); title: "draft" → "v2"',
    );
    expect(lines[5]).toMatch(/insert\s+id=42\s+user:alice\s+corr-a\s+\d+\s+id: 42; email: .*title: "draft"/);
    expect(run.stderr).toBe('');
  });

  it('history --json prints the core page exactly', async () => {
    const page = await json('history', 'posts', '42');
    expect(page).toEqual(JSON.parse(JSON.stringify(await fx.tl.history('posts', 42))));
    expect(Object.keys(page)).toEqual(['entries', 'hasMore', 'cursor']);
    expect(page.entries[0]).toMatchObject({
      op: 'delete',
      tableSchema: 'public',
      tableName: 'posts',
      tablePk: { id: 42 },
      actor: { type: 'user', id: 'bob' },
      correlationId: 'corr-b',
    });
    const windowed = await json(
      'history',
      'public.posts',
      '42',
      '--from',
      fx.marks.afterInsert,
      '--to',
      fx.marks.afterPublish,
    );
    expect(windowed.entries.map((e: { op: string }) => e.op)).toEqual(['update', 'update']);
  });

  it('history takes composite keys as JSON, uuid and text keys as text', async () => {
    const members = await json('history', 'members', '{"org_id": 1, "user_id": "2"}');
    expect(members.entries.map((e: { op: string }) => e.op)).toEqual(['update', 'insert']);
    const readable = await cli('history', 'members', '{"user_id":2,"org_id":1}');
    expect(readable.stdout).toMatch(/update\s+org_id=1, user_id=2\s+user:bob/);
    expect(readable.stdout).toContain('role: "member" → "owner"');
    const doc = await json('history', 'docs', '6f1c1f3e-9d5a-4c87-9b61-2f4a1f6d1c11');
    expect(doc.entries).toHaveLength(1);
    expect(doc.entries[0].actor).toEqual({ type: 'service_account', id: 'importer' });
    expect((await json('history', 'tags', 'ABC-7')).entries).toHaveLength(1);
    const numericText = await json('history', 'tags', '7');
    expect(numericText.entries[0].tablePk).toEqual({ code: '7' });
  });

  it('history of a row that existed before capture is empty (exit 0); an unaudited table exits 1', async () => {
    const empty = await cli('history', 'legacy', '2');
    expect(empty.code).toBe(0);
    expect(empty.stdout).toMatch(/^no captured changes of legacy 2 \(rows that existed before capture/);
    expect(await json('history', 'legacy', '2')).toEqual({ entries: [], hasMore: false, cursor: null });
    const missing = await cli('history', 'no_such_table', '1');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^threadline: .*no_such_table is not audited/);
    expect(missing.stdout).toBe('');
  });

  it('history --as-of: the row as it was, the last row of a deleted row, exit 1 before the horizon', async () => {
    const found = await cli('history', 'posts', '42', '--as-of', fx.marks.afterUpdate);
    expect(found.code, found.stderr).toBe(0);
    expect(found.stdout).toContain(`posts id=42 as of ${fx.marks.afterUpdate}: found`);
    expect(found.stdout).toMatch(/last change before then: update at \S+ by user:bob, transaction \d+/);
    expect(found.stdout).toMatch(/title\s+"v2"/);
    expect(found.stdout).toMatch(/status\s+"draft"/);
    expect(await json('history', 'posts', '42', '--as-of', fx.marks.afterUpdate)).toEqual(
      JSON.parse(JSON.stringify(await fx.tl.asOf('posts', 42, fx.marks.afterUpdate))),
    );

    const deleted = await cli('history', 'posts', '42', '--as-of', fx.marks.afterDelete);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout).toMatch(/posts id=42 as of \S+: deleted at \S+/);
    expect(deleted.stdout).toContain('last row before the deletion:');
    expect(deleted.stdout).toMatch(/status\s+"published"/);
    const deletedJson = await json('history', 'posts', '42', '--as-of', fx.marks.afterDelete);
    expect(deletedJson).toMatchObject({ status: 'deleted', lastRow: { id: 42, status: 'published' } });

    const before = await cli('history', 'posts', '42', '--as-of', fx.marks.start);
    expect(before.code).toBe(1);
    expect(before.stdout).toBe('');
    expect(before.stderr).toMatch(/before the audit horizon \(its first captured change is the insert at /);
    const beforeJson = await cli('history', 'posts', '42', '--as-of', fx.marks.start, '--json');
    expect(beforeJson.code).toBe(1);
    expect(JSON.parse(beforeJson.stdout)).toMatchObject({
      status: 'before_horizon',
      firstChange: { op: 'insert' },
    });
    const legacy = await cli('history', 'legacy', '1', '--as-of', fx.marks.start);
    expect(legacy.code).toBe(1);
    expect(legacy.stderr).toContain('first captured change is the update');
  });

  it('exits 2 on bad input: bad dates, malformed key JSON, over-long correlation id, unknown flags, bad paging', async () => {
    const cases: [string[], RegExp][] = [
      [['history', 'posts', '42', '--as-of', 'yesterday'], /ISO 8601/],
      [['history', 'posts', '42', '--from', '2026-13-45'], /from .*(ISO 8601|not a valid timestamp)/],
      [['timeline', '--to', 'now'], /ISO 8601/],
      [['timeline', '--from', '2026-11-28T10:00:00Z', '--to', '2026-11-27T10:00:00Z'], /is after/],
      [['history', 'members', '{"org_id":1,'], /<pk> looks like JSON but is not valid JSON/],
      [['history', 'members', '[1,2]'], /JSON object naming every key column/],
      [['history', 'members', '{"org_id":{"x":1},"user_id":2}'], /needs a string, number or boolean/],
      [['history', 'members', '1'], /composite key; give an object naming every key column/],
      [['history', 'members', '{"org_id":1}'], /missing column\(s\) user_id/],
      [['history', 'posts', 'forty-two'], /not a valid bigint/],
      [['history', 'posts', ' '], /<pk> is empty/],
      [['history', 'a.b.c', '1'], /<table>:/],
      [['history', 'posts'], /missing <pk>/],
      [
        ['history', 'posts', '42', '--as-of', '2026-01-01', '--cursor', 'x'],
        /does not combine with --cursor/,
      ],
      [['timeline', '--correlation-id', 'x'.repeat(257)], /at most 256 bytes/],
      [['timeline', '--correlation-id', '   '], /correlationId must be a non-empty string/],
      [['timeline', '--actor', 'robot:1'], /unknown actor type/],
      [['timeline', '--actor', 'alice'], /actor/],
      [['timeline', '--tabel', 'posts'], /unknown option "--tabel"/],
      [['history', 'posts', '42', '--bogus'], /unknown option "--bogus"/],
      [['timeline', '--page-size', 'ten'], /--page-size must be a whole number/],
      [['timeline', '--page-size', '0'], /pageSize must be an integer from 1 to 1000/],
      [['timeline', '--page-size', '5000'], /pageSize/],
      [['timeline', '--cursor', 'garbage!'], /invalid cursor/],
      [['incident', 'abc'], /id must be a positive integer/],
      [['incident'], /give exactly one of <transaction-id>, --request-id ID, --job-id ID/],
      [['incident', '0'], /id must be a positive integer/],
      [['incident', '7', '--request-id', 'r'], /give exactly one of/],
      [['timeline', '--actor', 'anonymous:x'], /an anonymous actor has no id/],
      [['timeline', '--from', '2026-02-29'], /2026-02 has 28 days/],
      [['timeline', '--from', '2026-02-30T10:00:00Z'], /not a valid timestamp/],
      [['timeline', '--from', '0000-01-01'], /years run from 0001/],
      [['timeline', '--to', '2026-01-01T00:00:00+16:00'], /zone offsets run from/],
      [
        ['timeline', '--from', '2026-01-01T00:00:00.000600Z', '--to', '2026-01-01T00:00:00.000500Z'],
        /is after to/,
      ],
      [
        ['timeline', '--table', 'many', '--table-schema', 'other'],
        /name the table with its schema \(other\.many\)/,
      ],
      [['timeline', '--request-id', ' '], /requestId must be a non-empty string/],
      [['history', 'posts', '-5'], /a value that starts with "-" \(a negative key\) goes after "--"/],
    ];
    for (const [argv, message] of cases) {
      const run = await cli(...argv);
      expect(run.code, `${argv.join(' ')}: ${run.stderr}`).toBe(2);
      expect(run.stderr, argv.join(' ')).toMatch(message);
      expect(run.stdout, argv.join(' ')).toBe('');
    }
    const cursor = (await json('timeline', '--table', 'posts', '--page-size', '1')).cursor;
    const otherQuery = await cli('timeline', '--table', 'members', '--cursor', cursor);
    expect(otherQuery.code).toBe(2);
    expect(otherQuery.stderr).toContain('belongs to a different query');
  });

  it('timeline filters by table, schema, actor, window and correlation id; --json is the core page', async () => {
    const run = await cli('timeline', '--table', 'posts');
    expect(run.code, run.stderr).toBe(0);
    const lines = run.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^time\s+op\s+table\s+key\s+actor\s+correlation\s+tx\s+changes/);
    expect(lines).toHaveLength(2 + 4);
    expect(await json('timeline', '--table', 'posts')).toEqual(
      JSON.parse(JSON.stringify(await fx.tl.timeline({ table: 'posts' }))),
    );
    const alice = await json('timeline', '--actor', 'user:alice', '--table', 'posts');
    expect(alice.entries.map((e: { op: string }) => e.op)).toEqual(['update', 'insert']);
    const bob = await json('timeline', '--actor', 'user:bob');
    expect(bob.entries.map((e: { tableName: string; op: string }) => `${e.tableName}:${e.op}`)).toEqual([
      'members:update',
      'posts:delete',
      'posts:update',
    ]);
    expect((await json('timeline', '--correlation-id', 'corr-b', '--table', 'posts')).entries).toHaveLength(
      2,
    );
    const viaAction = await json('timeline', '--correlation-id', ' corr-action ');
    expect(viaAction.entries.map((e: { changedFields: string[] }) => e.changedFields)).toEqual([['status']]);
    const schema = await json('timeline', '--table-schema', 'public', '--from', fx.marks.afterDelete);
    expect(schema.entries.map((e: { tableName: string }) => e.tableName).sort()).toEqual(
      ['docs', 'legacy', 'members', 'members', 'members', 'tags', 'tags'].sort(),
    );
    const none = await cli('timeline', '--actor', 'user:nobody');
    expect(none).toMatchObject({ code: 0, stdout: 'no captured changes match\n' });
    expect(await json('timeline', '--actor', 'user:nobody')).toEqual({
      entries: [],
      hasMore: false,
      cursor: null,
    });
  });

  it('pages with --cursor across pages while new changes arrive, and says how to continue', async () => {
    await db().pool.query('create table paged (id int primary key, n int)');
    await fx.tl.installTriggers({ tables: ['paged'] });
    await fx.tl.query('insert into paged select g, 0 from generate_series(1, 12) g');
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const argv = [
        'timeline',
        '--table',
        'paged',
        '--page-size',
        '5',
        ...(cursor ? ['--cursor', cursor] : []),
      ];
      const page = await json(...argv);
      seen.push(...page.entries.map((e: { id: string }) => e.id));
      const readable = await cli(...argv);
      if (page.hasMore)
        expect(readable.stderr).toBe(
          `more changes: run again with --cursor ${page.cursor} (same filters) for the next 5\n`,
        );
      else expect(readable.stderr).toBe('');
      // A writer keeps adding changes while we page; they are newer than the first page, so the walk is stable.
      await runWithAuditContext({ actor: ActorRef.user('writer') }, () =>
        fx.tl.query('update paged set n = n + 1 where id = $1', [pages + 1]),
      );
      cursor = page.cursor;
      pages++;
    } while (cursor);
    expect(pages).toBe(3);
    expect(seen).toHaveLength(12);
    expect(new Set(seen).size).toBe(12);
    const history = await json('history', 'paged', '1', '--page-size', '1');
    const next = await json('history', 'paged', '1', '--page-size', '1', '--cursor', history.cursor);
    expect(next.entries[0].op).toBe('insert');
    expect(next.hasMore).toBe(false);
  });

  it('incident prints the transaction header, its action and every change with its field diff', async () => {
    const run = await cli('incident', fx.publishTx);
    expect(run.code, run.stderr).toBe(0);
    const out = run.stdout;
    expect(out).toMatch(new RegExp(`^audit transaction ${fx.publishTx}\n`));
    expect(out).toMatch(/ {2}actor {11}user:alice\n/);
    expect(out).toMatch(/ {2}correlation id {2}corr-a\n/);
    expect(out).toMatch(/ {2}request id {6}req-7\n/);
    expect(out).toMatch(/ {2}job id {10}-\n/);
    expect(out).toMatch(
      /actions \(1\):\n {2}post\.published \(ok\) by user:alice at \S+; reason "editor approved"; correlation id corr-action; request id req-7; linked to this transaction\n/,
    );
    expect(out).toMatch(
      /changes \(1, in capture order\):\n\n {2}update posts id=42 {2}at \S+ {2}\(change \d+\)\n {4}status: "draft" → "published"\n$/,
    );
    const bundle = await json('incident', fx.publishTx);
    expect(bundle).toEqual(JSON.parse(JSON.stringify(await fx.tl.auditTransaction(fx.publishTx))));
    expect(Object.keys(bundle)).toEqual([
      'transaction',
      'action',
      'actions',
      'changes',
      'changeCount',
      'hasMoreChanges',
      'changeCursor',
      'revertedBy',
    ]);
    expect(bundle.changes[0].diff).toEqual({
      op: 'update',
      beforeKnown: true,
      fields: [{ field: 'status', before: 'draft', after: 'published' }],
    });
    const insert = (await fx.tl.history('members', { org_id: 1, user_id: 3 })).entries[0]!;
    const both = await cli('incident', insert.transactionId);
    expect(both.stdout).toContain('actions: none recorded in this transaction');
    expect(both.stdout).toMatch(
      /insert members org_id=1, user_id=2 .*\n {4}org_id: 1\n {4}user_id: 2\n {4}role: "member"\n/,
    );
  });

  it('incident of an unknown id exits 1', async () => {
    const run = await cli('incident', '999999999');
    expect(run.code).toBe(1);
    expect(run.stderr).toBe(
      'threadline: no audit transaction with id 999999999: it was never captured, or retention purged it\n',
    );
    const asJson = await cli('incident', '999999999', '--json');
    expect(asJson.code).toBe(1);
    expect(asJson.stdout).toBe('');
  });

  it('treats audit data and filter values as hostile: escaped on the terminal, exact in --json, never SQL', async () => {
    await db().pool.query('create table notes (id int primary key, body text)');
    await fx.tl.installTriggers({ tables: ['notes'] });
    // The API and the capture function refuse control, bidi and zero-width characters in ids, but
    // rows stored by an older version (or edited by a superuser) may hold them: written directly.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping exactly those
    const hostileActorId = `mallory${HOSTILE.replace(/[\x00-\x1f\x7f-\x9f]/g, '')}`;
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('placeholder') }, () =>
      fx.tl.transaction(async (tx) => {
        await tx.query(
          "select set_config('threadline.actor_ref', $1, true), set_config('threadline.context', $2, true)",
          [
            JSON.stringify({ type: 'user', id: hostileActorId }),
            JSON.stringify({ correlationId: 'corr-\u202Eevil' }),
          ],
        );
        await tx.query('insert into notes values (1, $1)', [HOSTILE]);
        await tx.query('update notes set body = $1 where id = 1', [`${HOSTILE} v2`]);
        await fx.tl.recordAction(`note.${HOSTILE}`, { reason: HOSTILE });
      }),
    );
    await db().pool.query(
      'update threadline.audit_transactions set actor_ref = $2::jsonb, correlation_id = $3, meta = null where id = $1',
      [auditTransactionId, JSON.stringify({ type: 'user', id: hostileActorId }), 'corr-\u202Eevil'],
    );
    const runs = [
      await cli('history', 'notes', '1'),
      await cli('history', 'notes', '1', '--as-of', new Date().toISOString()),
      await cli('timeline', '--table', 'notes'),
      await cli('incident', auditTransactionId!),
    ];
    for (const run of runs) {
      expect(run.code, run.stderr).toBe(0);
      expectTerminalSafe(run);
      expect(run.stdout).toContain('evil\\u001b[31mRED');
    }
    expect(runs[2]!.stdout).toContain('\\u202e');
    expect(runs[3]!.stdout).toContain(
      'body: "evil\\u001b[31mRED\\u001b[0m\\u009b2J\\u202egnp.exe\\nnext line\\u0007" → ',
    );
    const asJson = await cli('incident', auditTransactionId!, '--json');
    expectTerminalSafe(asJson);
    const bundle = JSON.parse(asJson.stdout);
    expect(bundle.changes[0].change.dataAfter.body).toBe(HOSTILE);
    expect(bundle.action.reason).toBe(HOSTILE);
    expect(bundle.transaction.correlationId).toBe('corr-\u202Eevil');
    const history = await cli('history', 'notes', '1', '--json');
    expectTerminalSafe(history);
    expect(JSON.parse(history.stdout).entries[0].dataAfter.body).toBe(`${HOSTILE} v2`);

    // Hostile filter values are data: nothing matches, nothing is executed.
    const injection = await cli(
      'timeline',
      '--table',
      "x'); drop table posts; --",
      '--correlation-id',
      "' or 1=1 --",
    );
    expect(injection).toMatchObject({ code: 0, stdout: 'no captured changes match\n' });
    const key = await cli('history', 'notes', '1; drop table notes');
    expect(key.code).toBe(2);
    expect(key.stderr).toContain('not a valid integer');
    const typed = await cli('history', 'posts', '42\x1b[2J');
    expect(typed.code).toBe(2);
    expectTerminalSafe(typed);
    expect(await sql(db(), 'select count(*)::int as n from notes')).toEqual([{ n: 1 }]);
    expect((await fx.tl.history('posts', 42)).entries).toHaveLength(4);
  });

  it('lists the commands in --help', async () => {
    const top = await runCli(['--help']);
    for (const name of ['history', 'timeline', 'incident'])
      expect(top.stdout).toMatch(new RegExp(`\n  ${name} `));
    const page = await runCli(['history', '--help']);
    expect(page.stdout).toMatch(/^usage: threadline history <table> <pk>/);
    expect(page.stdout).toContain('--as-of ISO');
  });
});
