import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext, type Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'resolved';
}

/** "type:id" of an entry's actor (null when none), for exact actor checks. */
const actorKey = (actor: unknown) =>
  actor ? `${(actor as { type: string }).type}:${(actor as { id?: string }).id ?? ''}` : null;

describeEachDb('exploration queries', (db) => {
  let tl: Threadline;
  const posts = uniqueName('posts');
  const members = uniqueName('members');
  const docs = uniqueName('docs');
  const legacy = uniqueName('legacy');
  const marks: Record<string, string> = {};
  // Time marks are the database's own clock, read between the writes (no sleeps); beforeAll then
  // checks that every mark lies strictly between the captured times of its neighbouring changes.
  // A mark is a clock reading that differs from the one before it, and the clock is read again
  // until it has moved past the mark: PGlite's clock ticks in milliseconds, and a warm PGlite
  // writes and reads within one.
  const clock = async () =>
    (
      (await db().sql<{ t: string }>(
        `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
      )) as [{ t: string }]
    )[0].t;
  const after = async (t: string) => {
    let now = await clock();
    while (now <= t) now = await clock();
    return now;
  };
  const mark = async (name: string) => {
    const t = await after(await clock());
    marks[name] = t;
    await after(t);
  };

  beforeAll(async () => {
    await db().exec(`
      create table ${posts} (id bigint primary key, title text, email text, status text);
      create table ${members} (org_id int, user_id int, role text, primary key (org_id, user_id));
      create table ${docs} (id uuid primary key, body text);
      create table ${legacy} (id int primary key, v text);
      insert into ${legacy} values (1, 'existed before capture');`);
    tl = await installed(db(), { [posts]: { mask: ['email'] } });
    await tl.installTriggers({ tables: [posts, members, docs, legacy] });
    const alice = { actor: ActorRef.user('alice'), correlationId: 'corr-a' };
    const bob = { actor: ActorRef.user('bob'), correlationId: 'corr-b' };
    await mark('start');
    await runWithAuditContext(alice, () =>
      tl.query(`insert into ${posts} values (42, 'draft', 'a@x', 'draft')`),
    );
    await mark('afterInsert');
    await runWithAuditContext(bob, () =>
      tl.query(`update ${posts} set title = 'v2', email = 'b@x' where id = 42`),
    );
    await mark('afterUpdate');
    await runWithAuditContext(alice, () =>
      tl.transaction(async (tx) => {
        await tx.query(`update ${posts} set status = 'published' where id = 42`);
        await tl.recordAction('post.published', { correlationId: 'corr-action' });
      }),
    );
    await mark('afterPublish');
    await runWithAuditContext(bob, () => tl.query(`delete from ${posts} where id = 42`));
    await mark('afterDelete');
    const captured = await db().sql<{ t: string }>(
      `select to_char(captured_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t
         from threadline.audit_changes where table_name = $1 order by id`,
      [posts],
    );
    const timeline = [marks.start, captured[0]?.t, marks.afterInsert, captured[1]?.t, marks.afterUpdate];
    timeline.push(captured[2]?.t, marks.afterPublish, captured[3]?.t, marks.afterDelete);
    expect(captured).toHaveLength(4);
    expect([...timeline].sort()).toEqual(timeline);
    expect(new Set(timeline).size).toBe(timeline.length);
    await runWithAuditContext(alice, () =>
      tl.query(`insert into ${members} values (1, 2, 'member'), (1, 3, 'member')`),
    );
    await runWithAuditContext(bob, () =>
      tl.query(`update ${members} set role = 'owner' where org_id = 1 and user_id = 2`),
    );
    await tl.query(`insert into ${docs} values ('6f1c1f3e-9d5a-4c87-9b61-2f4a1f6d1c11', 'x')`);
    await tl.query(`update ${legacy} set v = 'changed' where id = 1`);
  });

  it('returns row history newest first, with actor and correlation id, and keys compared by type', async () => {
    const page = await tl.history(posts, 42);
    expect(page.entries.map((e) => e.op)).toEqual(['delete', 'update', 'update', 'insert']);
    expect(page.entries.map((e) => e.actor)).toEqual([
      { type: 'user', id: 'bob' },
      { type: 'user', id: 'alice' },
      { type: 'user', id: 'bob' },
      { type: 'user', id: 'alice' },
    ]);
    expect(page.entries[2]).toMatchObject({
      correlationId: 'corr-b',
      tableSchema: 'public',
      tableName: posts,
      tablePk: { id: 42 },
    });
    expect(page.entries[0]!.capturedAt).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/);
    expect(page).toMatchObject({ hasMore: false, cursor: null });
    expect((await tl.history(posts, '42')).entries).toHaveLength(4);
    expect((await tl.history(posts, { id: ' 42 ' as never })).entries).toHaveLength(4);
    expect((await tl.history(posts, 42n)).entries).toHaveLength(4);
    expect(
      (
        await tl.history(`public.${posts}`, 42, { from: marks.afterInsert, to: marks.afterPublish })
      ).entries.map((e) => e.op),
    ).toEqual(['update', 'update']);
  });

  it('handles composite, uuid and text keys, and rejects wrong key columns with the fix', async () => {
    const h = await tl.history(members, { org_id: 1, user_id: '2' });
    expect(h.entries.map((e) => e.op)).toEqual(['update', 'insert']);
    expect((await tl.history(docs, '6f1c1f3e-9d5a-4c87-9b61-2f4a1f6d1c11')).entries).toHaveLength(1);
    expect(await code(tl.history(members, 1))).toMatch(
      /QUERY_INVALID: .*composite key; give an object naming every key column/,
    );
    expect(await code(tl.history(members, { org_id: 1 }))).toMatch(
      /QUERY_INVALID: .*missing column\(s\) user_id/,
    );
    expect(await code(tl.history(members, { org_id: 1, user_id: 2, x: 3 }))).toMatch(
      /QUERY_INVALID: .*no key column\(s\) x/,
    );
    expect(await code(tl.history(posts, 'forty-two'))).toMatch(/QUERY_INVALID: .*not a valid bigint/);
    expect(await code(tl.history('no_such_table', 1))).toMatch(/NOT_FOUND: .*is not audited/);
    expect(await code(tl.history(posts, null as never))).toMatch(/QUERY_INVALID/);
    expect(await code(tl.history(posts, [1] as never))).toMatch(/QUERY_INVALID: .*not an array/);
  });

  it('gives empty history for rows that existed before capture, and as-of before the horizon', async () => {
    expect((await tl.history(legacy, 2)).entries).toEqual([]);
    expect(await tl.asOf(legacy, 1, marks.start!)).toEqual({
      status: 'before_horizon',
      firstChange: { op: 'update', capturedAt: expect.any(String) },
    });
    expect(await tl.asOf(legacy, 2, new Date())).toEqual({ status: 'before_horizon', firstChange: null });
  });

  it('answers as-of: found, deleted with the last row, before the horizon', async () => {
    const before = await tl.asOf(posts, 42, marks.start!);
    expect(before).toMatchObject({ status: 'before_horizon', firstChange: { op: 'insert' } });
    const v1 = await tl.asOf(posts, 42, marks.afterInsert!);
    expect(v1).toMatchObject({ status: 'found', row: { id: 42, title: 'draft', email: '[REDACTED]' } });
    const v2 = await tl.asOf(posts, '42', new Date(Date.parse(marks.afterUpdate!)));
    expect(v2).toMatchObject({ status: 'found', row: { title: 'v2', status: 'draft' } });
    const gone = await tl.asOf(posts, 42, marks.afterDelete!);
    expect(gone).toMatchObject({
      status: 'deleted',
      lastRow: { id: 42, title: 'v2', status: 'published', email: '[REDACTED]' },
    });
    expect(await code(tl.asOf(posts, 42, 'yesterday'))).toMatch(
      /QUERY_INVALID: asOf: at must be a Date or an ISO 8601 timestamp/,
    );
  });

  it('filters the timeline by table, schema, actor, time window (inclusive) and correlation id', async () => {
    const byTable = await tl.timeline({ table: posts });
    expect(byTable.entries).toHaveLength(4);
    expect((await tl.timeline({ table: posts, tableSchema: 'public' })).entries).toHaveLength(4);
    const byAlice = (await tl.timeline({ tableSchema: 'public', actor: 'user:alice' })).entries;
    expect(byAlice.length).toBeGreaterThan(0);
    expect(byAlice.filter((e) => actorKey(e.actor) !== 'user:alice')).toEqual([]);
    const alice = await tl.timeline({ actor: ActorRef.user('alice'), table: posts });
    expect(alice.entries.map((e) => e.op)).toEqual(['update', 'insert']);
    const first = byTable.entries[3]!;
    const exact = await tl.timeline({ table: posts, from: first.capturedAt, to: first.capturedAt });
    expect(exact.entries.map((e) => e.id)).toEqual([first.id]);
    expect((await tl.timeline({ correlationId: 'corr-b', table: posts })).entries.map((e) => e.op)).toEqual([
      'delete',
      'update',
    ]);
    const viaAction = await tl.timeline({ correlationId: '  corr-action ' });
    expect(viaAction.entries.map((e) => [e.op, e.changedFields])).toEqual([['update', ['status']]]);
    // Bob: the update and the delete of the post, and his members write below.
    const bobs = (await tl.actorHistory('user:bob', { from: marks.start })).entries;
    expect(bobs.filter((e) => actorKey(e.actor) !== 'user:bob')).toEqual([]);
    expect(bobs.filter((e) => e.tableName === posts).map((e) => e.op)).toEqual(['delete', 'update']);
  });

  it('validates filters strictly and treats hostile values as data', async () => {
    expect(await code(tl.timeline({ tabel: posts } as never))).toMatch(
      /QUERY_INVALID: timeline filters: unknown key "tabel"; known keys are table, tableSchema, actor, from, to, correlationId/,
    );
    expect(await code(tl.timeline({ correlationId: 'x'.repeat(257) }))).toMatch(/at most 256 bytes/);
    expect(await code(tl.timeline({ correlationId: '   ' }))).toMatch(/QUERY_INVALID/);
    expect(await code(tl.timeline({ from: 'not a date' }))).toMatch(/ISO 8601/);
    expect(await code(tl.timeline({ from: marks.afterDelete, to: marks.start }))).toMatch(/is after/);
    expect(await code(tl.timeline({ table: 42 as never }))).toMatch(/table must be/);
    expect(await code(tl.timeline({ actor: 'robot:1' }))).toMatch(/unknown actor type/);
    expect(await code(tl.timeline({}, { pageSize: 0 }))).toMatch(/pageSize/);
    expect(await code(tl.timeline({}, { pageSize: 5000 }))).toMatch(/pageSize/);
    const hostile = await tl.timeline({
      table: `x'); drop table ${posts}; --`,
      correlationId: "' or 1=1 --",
    });
    expect(hostile.entries).toEqual([]);
    expect((await tl.history(posts, 42)).entries).toHaveLength(4);
  });

  it('pages with opaque keyset cursors that stay stable while new changes arrive', async () => {
    const t = uniqueName('paged');
    await db().exec(`create table ${t} (id int primary key, n int)`);
    await tl.installTriggers({ tables: [t] });
    await tl.query(`insert into ${t} select g, 0 from generate_series(1, 25) g`);
    for (let i = 0; i < 5; i++) await tl.query(`update ${t} set n = n + 1 where id <= 3`);
    const seen: string[] = [];
    let page = await tl.timeline({ table: t }, { pageSize: 7 });
    let pages = 1;
    for (;;) {
      seen.push(...page.entries.map((e) => e.id));
      // Concurrent writers keep adding changes while we page.
      await tl.query(`update ${t} set n = n + 100 where id = ${pages}`);
      if (!page.hasMore) break;
      expect(page.cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      page = await tl.timeline({ table: t }, { cursor: page.cursor, pageSize: 7 });
      pages++;
    }
    expect(seen).toHaveLength(25 + 15);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBe(6);
    expect(await code(tl.timeline({ table: t }, { cursor: 'garbage!' }))).toMatch(
      /QUERY_INVALID: invalid cursor/,
    );
    const other = await tl.timeline({ table: posts }, { pageSize: 1 });
    expect(await code(tl.timeline({ table: t }, { cursor: other.cursor }))).toMatch(
      /belongs to a different query/,
    );
    const h = await tl.history(t, 1, { pageSize: 2 });
    const h2 = await tl.history(t, 1, { pageSize: 2, cursor: h.cursor });
    // Newest first, by id: the second page continues strictly after the first.
    expect(h.entries).toHaveLength(2);
    expect(h2.entries).toHaveLength(2);
    const ids = [...h.entries, ...h2.entries].map((e) => BigInt(e.id));
    expect(ids).toEqual([...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)));
    expect(new Set(ids).size).toBe(4);
  });

  it('builds the incident bundle with actor, ids, action and diffs', async () => {
    const page = await tl.history(posts, 42);
    const publish = page.entries[1]!;
    const bundle = await tl.auditTransaction(publish.transactionId);
    expect(bundle?.transaction).toMatchObject({
      id: publish.transactionId,
      actor: { type: 'user', id: 'alice' },
      correlationId: 'corr-a',
    });
    expect(bundle?.action).toMatchObject({ name: 'post.published', correlationId: 'corr-action' });
    expect(bundle?.changes).toHaveLength(1);
    expect(bundle?.changes[0]?.diff).toEqual({
      op: 'update',
      beforeKnown: true,
      fields: [{ field: 'status', before: 'draft', after: 'published' }],
    });
    expect(await tl.auditTransaction('999999999')).toBeNull();
    expect(await code(tl.auditTransaction('abc'))).toMatch(/QUERY_INVALID/);
  });

  it('projects diffs: updates before/after, inserts, deletes, redacted values flagged', async () => {
    const [del, , upd, ins] = (await tl.history(posts, 42)).entries;
    expect(tl.changeDiff(upd!)).toEqual({
      op: 'update',
      beforeKnown: true,
      fields: [
        { field: 'email', before: '[REDACTED]', after: '[REDACTED]', redacted: true },
        { field: 'title', before: 'draft', after: 'v2' },
      ],
    });
    expect(tl.changeDiff(ins!).fields[0]).toEqual({ field: 'id', after: 42 });
    expect(tl.changeDiff(ins!).fields.find((f) => f.field === 'email')).toEqual({
      field: 'email',
      after: '[REDACTED]',
      redacted: true,
    });
    expect(tl.changeDiff(del!)).toMatchObject({ op: 'delete', beforeKnown: true });
    expect(tl.changeDiff(del!).fields.find((f) => f.field === 'status')).toEqual({
      field: 'status',
      before: 'published',
    });
  });
});
