import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '@threadline/core';
import {
  openPool,
  postgresEnabled,
  startStreamingReplica,
  startThrowawayCluster,
  type ThrowawayCluster,
} from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperatorSurface, type OperatorSurface } from '../src/surface.js';

const run = postgresEnabled() ? describe : describe.skip;

/**
 * The surface reads through the Threadline instance, so with `readDb` on a streaming replica
 * its pages show what the replica has replayed. Replay is paused: the pages show the stale
 * state, while the surface's writes (a purge, an export's action) still succeed on the primary.
 */
run('operator surface reads from readDb (a real streaming replica)', () => {
  let primary: ThrowawayCluster | undefined;
  let replica: Omit<ThrowawayCluster, 'restart'> | undefined;
  let db: ReturnType<typeof openPool>;
  let readDb: ReturnType<typeof openPool>;
  let tl: Threadline;
  let surface: OperatorSurface;

  const caughtUp = async () => {
    for (let i = 0; i < 600; i += 1) {
      const lsn = (await db.query<{ l: string }>('SELECT pg_current_wal_insert_lsn()::text AS l')).rows[0]!.l;
      const r = await readDb.query<{ ok: boolean }>('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok', [
        lsn,
      ]);
      if (r.rows[0]!.ok) return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    throw new Error('the replica did not catch up');
  };

  beforeAll(async () => {
    primary = await startThrowawayCluster();
    replica = await startStreamingReplica(primary);
    db = openPool(primary.url());
    readDb = openPool(replica.url());
    await db.query(
      'CREATE TABLE posts (id int PRIMARY KEY, title text); CREATE TABLE comments (id int PRIMARY KEY)',
    );
    tl = createThreadline({
      db,
      readDb,
      tables: { posts: {}, comments: {} },
      retention: { enabled: true, keepDays: 30, sleepMs: 0 },
    });
    await tl.install();
    await tl.installTriggers({ tables: ['posts'] });
    await runWithAuditContext({ actor: ActorRef.user('ann') }, () =>
      tl.query("INSERT INTO posts VALUES (1, 'first title')"),
    );
    await caughtUp();
    surface = createOperatorSurface({
      threadline: tl,
      authorize: () => ({
        actor: ActorRef.admin('ops'),
        canExport: true,
        canPrune: true,
        canSeeCoverage: true,
      }),
    });
  }, 180_000);

  afterAll(async () => {
    await db?.end().catch(() => undefined);
    await readDb?.end().catch(() => undefined);
    replica?.stop();
    primary?.stop();
  });

  const rowPath = `/row?table=posts&pk=1&at=${encodeURIComponent(new Date(Date.now() + 3_600_000).toISOString())}`;
  const ops = (text: string) => [...text.matchAll(/class="op op-([a-z]+)"/g)].map((m) => m[1]);
  const page = async (path: string) => {
    const response = await surface.fetch(new Request(`http://x${path}`));
    return { status: response.status, text: await response.text() };
  };

  it('pages and the JSON API show the replica’s state; the surface’s writes land on the primary', async () => {
    await readDb.query('SELECT pg_wal_replay_pause()');
    try {
      const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('bob') }, () =>
        tl.transaction(async (tx) => {
          await tx.query("UPDATE posts SET title = 'second title' WHERE id = 1");
        }),
      );
      await tl.installTriggers({ tables: ['comments'] });

      const row = await page(rowPath);
      expect(row.status).toBe(200);
      expect(row.text).toContain('first title');
      expect(row.text).not.toContain('second title');
      expect(ops(row.text)).toEqual(['insert']);
      expect(row.text).toContain('1 uncovered'); // the header pill: comments, as the replica sees it
      const history = JSON.parse((await page('/api/history?table=posts&pk=1')).text);
      expect(history.entries).toHaveLength(1);
      expect((await page(`/transaction?id=${auditTransactionId}`)).status).toBe(404);
      expect((await page('/actor?actor=user:bob')).text).not.toContain('second title');
      expect((await page('/timeline')).text).not.toContain('second title');
      const coverage = JSON.parse((await page('/api/coverage')).text);
      expect(coverage.schemas.find((s: { schema: string }) => s.schema === 'public').uncovered).toEqual([
        'comments',
      ]);
      expect(coverage.readReplica).toMatchObject({ inRecovery: true, replayPaused: true });
      expect((await page('/coverage')).text).toMatch(
        /Read from the read replica: [0-9.]+ s behind the primary \([0-9]+ bytes of WAL not replayed\); replay is paused/,
      );

      // The retention page's dry run and runs list read the primary; a purge writes there.
      const retention = await page('/retention?preview=1');
      expect(retention.status).toBe(200);
      const csrf = /name="csrf" value="([^"]+)"/.exec(retention.text)![1]!;
      const purged = await surface.fetch(
        new Request('http://x/retention/purge', {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ confirm: 'purge audit data', csrf }).toString(),
        }),
      );
      expect(purged.status).toBe(200);
      const realRuns = 'SELECT count(*)::int AS n FROM threadline.retention_runs WHERE NOT dry_run';
      expect((await db.query(realRuns)).rows).toEqual([{ n: 1 }]);
      expect((await readDb.query(realRuns)).rows).toEqual([{ n: 0 }]);
    } finally {
      await readDb.query('SELECT pg_wal_replay_resume()');
    }
    await caughtUp();
    const fresh = (await page(rowPath)).text;
    expect(fresh).toContain('second title');
    expect(ops(fresh)).toEqual(['update', 'insert']);
  });
});
