import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { createTestDatabase, type TestDatabase } from '@threadline/test-utils';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithDatabase, runCli, sql } from './helpers.js';

/**
 * --read-url / DATABASE_READ_URL: read commands go to the read database, writes to DATABASE_URL.
 * Routing itself is proven on a real streaming replica in @threadline/core's read-replica test;
 * here two unrelated databases with different audit rows show which one each command used.
 */
describeWithDatabase('--read-url and DATABASE_READ_URL', (db) => {
  let reads: TestDatabase | undefined;
  const seed = async (target: TestDatabase, actor: string) => {
    await target.pool.query(
      'CREATE TABLE posts (id int PRIMARY KEY, title text); CREATE TABLE notes (id int PRIMARY KEY)',
    );
    const tl = createThreadline({ db: target.pool, tables: { posts: {} } });
    await tl.install();
    await tl.installTriggers();
    await runWithAuditContext({ actor: ActorRef.user(actor) }, () =>
      tl.query("INSERT INTO posts VALUES (1, 'hello')"),
    );
  };

  beforeAll(async () => {
    reads = await createTestDatabase('tl_cli_read');
    await seed(db(), 'primary');
    await seed(reads, 'replica');
  });
  afterAll(async () => {
    await reads?.drop();
  });

  const actorsOf = (stdout: string) =>
    (JSON.parse(stdout) as { entries: { actor: { id: string } | null }[] }).entries.map((e) => e.actor?.id);

  it('read commands use --read-url (or DATABASE_READ_URL); without either, the database URL', async () => {
    const flag = await runCli(['timeline', '--json', '--read-url', reads!.url], {
      env: { DATABASE_URL: db().url },
    });
    expect(flag.code, flag.stderr).toBe(0);
    expect(actorsOf(flag.stdout)).toEqual(['replica']);
    const env = await runCli(['history', 'posts', '1', '--json'], {
      env: { DATABASE_URL: db().url, DATABASE_READ_URL: reads!.url },
    });
    expect(actorsOf(env.stdout)).toEqual(['replica']);
    const plain = await runCli(['timeline', '--json'], { env: { DATABASE_URL: db().url } });
    expect(actorsOf(plain.stdout)).toEqual(['primary']);
    const coverage = await runCli(['health', 'coverage', '--read-url', reads!.url], {
      env: { DATABASE_URL: db().url },
    });
    expect(coverage.code, coverage.stderr).toBe(0);
    expect(coverage.stdout).toContain('not a streaming replica');
  });

  it('write commands never use the read database', async () => {
    const run = await runCli(['gen-triggers', '--tables', 'notes', '--apply', '--read-url', reads!.url], {
      env: { DATABASE_URL: db().url },
    });
    expect(run.code, run.stderr).toBe(0);
    const captured = (t: TestDatabase) =>
      sql<{ n: number }>(
        t,
        "SELECT count(*)::int AS n FROM threadline.captured_tables WHERE table_name = 'notes'",
      );
    expect(await captured(db())).toEqual([{ n: 1 }]);
    expect(await captured(reads!)).toEqual([{ n: 0 }]);
  });

  it('a malformed or unreachable read URL exits 2 naming --read-url', async () => {
    const bad = await runCli(['timeline', '--read-url', 'mysql://x@h/db'], {
      env: { DATABASE_URL: db().url },
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^threadline: --read-url is not a valid PostgreSQL URL/);
    const down = await runCli(['timeline'], {
      env: { DATABASE_URL: db().url, DATABASE_READ_URL: 'postgres://postgres@127.0.0.1:1/postgres' },
    });
    expect(down.code).toBe(2);
    expect(down.stderr).toContain('(from DATABASE_READ_URL)');
  });
});
