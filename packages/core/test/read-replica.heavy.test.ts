import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  postgresEnabled,
  startStreamingReplica,
  startThrowawayCluster,
  type ThrowawayCluster,
} from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorRef,
  createThreadline,
  LocalDirectoryStorage,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';

const run = postgresEnabled() ? describe : describe.skip;

async function until(probe: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    if (await probe()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * One primary and one hot-standby replica for the file. While replay is paused the replica is
 * behind, so every read that went there returns the stale answer and `{ consistency: 'primary' }`
 * the fresh one; the replica is read-only, so any write sent there would fail.
 */
run('read routing: readDb on a real streaming replica', () => {
  let primary: ThrowawayCluster | undefined;
  let replica: Omit<ThrowawayCluster, 'restart'> | undefined;
  let db: pg.Pool;
  let readDb: pg.Pool;
  let tl: Threadline;
  const exportDir = mkdtempSync(join(tmpdir(), 'tl-replica-export-'));

  const activityTotal = async () =>
    (await tl.activity({ requestId: 'r2' })).buckets.reduce((n, b) => n + b.changes, 0);
  const caughtUp = () =>
    until(async () => {
      const { rows } = await db.query<{ lsn: string }>('SELECT pg_current_wal_insert_lsn()::text AS lsn');
      const r = await readDb.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [
        rows[0]!.lsn,
      ]);
      return r.rows[0]!.ok;
    }, 'the replica to replay');

  beforeAll(async () => {
    primary = await startThrowawayCluster({ wal_level: 'replica' });
    replica = await startStreamingReplica(primary);
    db = new pg.Pool({ connectionString: primary.url(), max: 4 });
    readDb = new pg.Pool({ connectionString: replica.url(), max: 4 });
    await db.query(
      'CREATE TABLE posts (id int PRIMARY KEY, title text); CREATE TABLE comments (id int PRIMARY KEY, body text)',
    );
    tl = createThreadline({
      db,
      readDb,
      tables: { posts: {}, comments: {} },
      retention: { enabled: true, keepDays: 30 },
    });
    tl.export.configure({ storage: new LocalDirectoryStorage(exportDir), runner: { run: () => undefined } });
    await tl.install();
    await tl.installTriggers({ tables: ['posts'] });
    await runWithAuditContext({ actor: ActorRef.user('7'), requestId: 'r1' }, () =>
      tl.query("INSERT INTO posts VALUES (1, 'old'), (2, 'other')"),
    );
    await caughtUp();
  }, 180_000);

  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await readDb?.end().catch(() => undefined);
    replica?.stop();
    primary?.stop();
    rmSync(exportDir, { recursive: true, force: true });
  });

  it('readDb is the standby: in recovery and read-only; db is not', async () => {
    const [onReplica] = await tl.reader('replica')<{ r: boolean }>('SELECT pg_is_in_recovery() AS r', []);
    const [onPrimary] = await tl.reader('primary')<{ r: boolean }>('SELECT pg_is_in_recovery() AS r', []);
    expect(onReplica!.r).toBe(true);
    expect(onPrimary!.r).toBe(false);
    expect(tl.routing.separate).toBe(true);
    await expect(readDb.query('CREATE TABLE nope (id int)')).rejects.toThrow(/read-only/);
    const status = await tl.health.readReplica();
    expect(status).toMatchObject({ configured: true, inRecovery: true, lagBytes: 0, lagSeconds: 0 });
  });

  it('with replay paused, every read returns the replica’s stale answer and consistency primary the fresh one; writes all land on the primary', async () => {
    await readDb.query('SELECT pg_wal_replay_pause()');
    await until(
      async () =>
        (await readDb.query<{ s: string }>('SELECT pg_get_wal_replay_pause_state() AS s')).rows[0]!.s ===
        'paused',
      'replay to pause',
    );
    try {
      // Writes while the replica is frozen and read-only: each would fail if it went there.
      const { auditTransactionId } = await runWithAuditContext(
        { actor: ActorRef.user('8'), requestId: 'r2', correlationId: 'c2' },
        () =>
          tl.transaction(async (tx) => {
            await tx.query("UPDATE posts SET title = 'new' WHERE id = 1");
            await tl.recordAction('post.retitled', {});
          }),
      );
      expect(auditTransactionId).not.toBeNull();
      const txId = auditTransactionId!;
      await tl.installTriggers({ tables: ['comments'] });
      await runWithAuditContext({ actor: ActorRef.user('8') }, () =>
        tl.query("INSERT INTO comments VALUES (1, 'hi')"),
      );
      const primaryOnly = { consistency: 'primary' } as const;

      // history, asOf, actorHistory, timeline
      expect((await tl.history('posts', 1)).entries).toHaveLength(1);
      expect((await tl.history('posts', 1, primaryOnly)).entries).toHaveLength(2);
      const at = new Date(Date.now() + 60_000);
      expect(await tl.asOf('posts', 1, at)).toMatchObject({ status: 'found', row: { title: 'old' } });
      expect(await tl.asOf('posts', 1, at, primaryOnly)).toMatchObject({
        status: 'found',
        row: { title: 'new' },
      });
      expect((await tl.actorHistory('user:8')).entries).toHaveLength(0);
      expect((await tl.actorHistory('user:8', primaryOnly)).entries).toHaveLength(2);
      expect((await tl.timeline({ requestId: 'r2' })).entries).toHaveLength(0);
      expect((await tl.timeline({ requestId: 'r2' }, primaryOnly)).entries).toHaveLength(1);
      // activity (the operator's chart) reads the replica too
      expect(await activityTotal()).toBe(0);

      // incident
      expect(await tl.auditTransaction(txId)).toBeNull();
      const bundle = await tl.auditTransaction(txId, primaryOnly);
      expect(bundle?.changes).toHaveLength(1);
      expect((await tl.auditTransactions({ requestId: 'r2' })).entries).toHaveLength(0);
      expect((await tl.auditTransactions({ requestId: 'r2' }, primaryOnly)).entries).toHaveLength(1);

      // export: count, stream, toBuffer read the replica; the action each records goes to the primary
      const actions = async () =>
        Number(
          (
            await db.query<{ n: string }>(
              "SELECT count(*)::text AS n FROM threadline.audit_actions WHERE name = 'threadline.export'",
            )
          ).rows[0]!.n,
        );
      const actionsBefore = await actions();
      expect(await tl.export.count({ requestId: 'r2' })).toEqual({ count: 0, capped: false });
      expect(await tl.export.count({ requestId: 'r2' }, primaryOnly)).toEqual({ count: 1, capped: false });
      const stale = await tl.export.toBuffer({ requestId: 'r2' }, { format: 'ndjson', actor: 'user:9' });
      const fresh = await tl.export.toBuffer(
        { requestId: 'r2' },
        { format: 'ndjson', actor: 'user:9', consistency: 'primary' },
      );
      expect([stale.returnedCount, fresh.returnedCount]).toEqual([0, 1]);
      const stream = tl.export.stream({ actor: 'user:8' }, { format: 'csv', actor: 'user:9' });
      for await (const _ of stream) {
        // drain
      }
      expect(stream.stats.rowCount).toBe(0);
      expect(await actions()).toBe(actionsBefore + 3);
      // a background job: bookkeeping on the primary, pages from the replica
      const job = await tl.export.enqueue({ requestId: 'r2' }, { format: 'csv', requestedBy: 'user:9' });
      const done = await tl.export.runJob(job.id);
      expect(done).toMatchObject({ status: 'completed', rowCount: 0 });

      // health, policy, continuity: the replica's catalogs do not have the comments trigger yet
      const coverage = await tl.health.coverage({ schema: 'public' });
      expect(coverage.schemas[0]).toMatchObject({ covered: ['posts'], uncovered: ['comments'] });
      expect(coverage.readReplica).toMatchObject({ configured: true, inRecovery: true, replayPaused: true });
      expect(coverage.readReplica!.lagBytes).toBeGreaterThan(0);
      expect(coverage.readReplica!.lagSeconds).toBeGreaterThan(0);
      const fromPrimary = await tl.health.coverage({ schema: 'public', ...primaryOnly });
      expect(fromPrimary.schemas[0]).toMatchObject({ covered: ['comments', 'posts'], uncovered: [] });
      expect(fromPrimary.readReplica).toBeUndefined();
      expect((await tl.health.verify({ expectedTables: ['comments'] })).ok).toBe(false);
      expect((await tl.health.verify({ expectedTables: ['comments'], ...primaryOnly })).ok).toBe(true);
      expect((await tl.health.findings({ schema: 'public' })).filter((f) => f.table === 'comments')).toEqual(
        [],
      );
      const policy = async (o = {}) =>
        (await tl.policy.show({ tables: ['comments'], ...o })).tables.map((t) => t.state);
      expect(await policy()).toEqual(['not_deployed']);
      expect(await policy(primaryOnly)).toEqual(['matches']);
      const continuity = async (o = {}) =>
        (await tl.continuity.report({ tables: ['comments'], ...o })).tables.map((t) => t.status);
      expect(await continuity()).toEqual(['not_captured']);
      expect(await continuity(primaryOnly)).toEqual(['complete']);

      // retention and revert write, and revert plans against the primary's current data
      const purge = await tl.retention.purge({ dryRun: false });
      expect(purge.complete).toBe(true);
      expect((await tl.retention.runs())[0]?.id).toBe(purge.runId);
      const plan = await tl.revert.plan({ transactionId: txId });
      expect(plan.conflicts).toEqual([]);
      const applied = await runWithAuditContext({ actor: ActorRef.user('1') }, () => tl.revert.apply(plan));
      expect(applied.auditTransactionId).not.toBeNull();
      expect((await db.query('SELECT title FROM posts WHERE id = 1')).rows).toEqual([{ title: 'old' }]);
      // still frozen: the replica has none of it
      expect((await readDb.query('SELECT title FROM posts WHERE id = 1')).rows).toEqual([{ title: 'old' }]);
      expect((await readDb.query('SELECT count(*)::int AS n FROM comments')).rows).toEqual([{ n: 0 }]);
    } finally {
      await readDb.query('SELECT pg_wal_replay_resume()');
    }
    await caughtUp();
    expect((await tl.history('posts', 1)).entries).toHaveLength(3);
    expect((await tl.timeline({ requestId: 'r2' })).entries).toHaveLength(1);
    expect(await activityTotal()).toBe(1);
    expect(await tl.health.readReplica()).toMatchObject({ lagBytes: 0, lagSeconds: 0, replayPaused: false });
  });

  it('inside tl.transaction reads use that transaction, so they see its own uncommitted changes', async () => {
    await runWithAuditContext({ actor: ActorRef.user('8') }, () =>
      tl.transaction(async (tx) => {
        await tx.query("UPDATE posts SET title = 'draft' WHERE id = 2");
        expect((await tl.history('posts', 2)).entries).toHaveLength(2);
        throw new Error('roll back');
      }),
    ).catch((error: Error) => expect(error.message).toBe('roll back'));
    expect((await tl.history('posts', 2, { consistency: 'primary' })).entries).toHaveLength(1);
  });
});

describe('readDb and consistency: validation', () => {
  const fakeDb = {
    kind: 'custom' as const,
    query: async () => ({ rows: [], rowCount: 0 }),
    exec: async () => undefined,
    transaction: async <T>(fn: (s: never) => Promise<T>) => fn({} as never),
    queryAfter: async () => ({ rows: [], rowCount: 0 }),
  };

  it('readDb that is db itself, or absent, reads from db; health says no replica is configured', async () => {
    for (const tl of [createThreadline({ db: fakeDb, readDb: fakeDb }), createThreadline({ db: fakeDb })]) {
      expect(tl.routing.separate).toBe(false);
      expect(tl.routing.client('replica')).toBe(tl.client);
      expect(await tl.health.readReplica()).toMatchObject({ configured: false, lagBytes: null });
    }
  });

  it('a readDb that is not a database client is refused naming readDb', () => {
    expect(() => createThreadline({ db: fakeDb, readDb: 'postgres://replica/db' })).toThrow(
      expect.objectContaining({
        code: 'UNSUPPORTED_CLIENT',
        message: expect.stringMatching(/readDb must be/),
      }),
    );
  });

  it('a bad consistency is QUERY_INVALID naming the choices, on every read method', async () => {
    const tl = createThreadline({ db: fakeDb });
    const bad = { consistency: 'strong' } as never;
    const calls: (() => Promise<unknown>)[] = [
      () => tl.history('posts', 1, bad),
      () => tl.asOf('posts', 1, new Date(), bad),
      () => tl.actorHistory('user:1', bad),
      () => tl.timeline({}, bad),
      () => tl.auditTransaction(1, bad),
      () => tl.auditTransactions({ requestId: 'r' }, bad),
      () => tl.export.count({}, bad),
      () => tl.export.toBuffer({}, { format: 'csv', actor: 'user:1', ...(bad as object) }),
      () => tl.health.coverage(bad),
      () => tl.health.findings(bad),
      () => tl.health.verify({ expectedTables: ['posts'], ...(bad as object) }),
      () => tl.policy.show(bad),
      () => tl.continuity.report(bad),
    ];
    for (const call of calls)
      await expect(call()).rejects.toMatchObject({
        code: 'QUERY_INVALID',
        message: expect.stringMatching(/consistency must be 'primary'/),
      });
    await expect(tl.asOf('posts', 1, new Date(), { pageSize: 3 } as never)).rejects.toMatchObject({
      code: 'QUERY_INVALID',
    });
  });
});
