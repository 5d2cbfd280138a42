import { expect, it } from 'vitest';
import { describeWithDatabase, runCli } from './helpers.js';

const UNREACHABLE = 'postgres://postgres@127.0.0.1:1/postgres';

describeWithDatabase('database URL and connection', (db) => {
  it('uses DATABASE_URL', async () => {
    const run = await runCli(['install', '--apply'], { env: { DATABASE_URL: db().url } });
    expect(run.stderr).not.toContain('threadline:');
    expect(run.code).toBe(0);
  });

  it('prefers --database-url over DATABASE_URL', async () => {
    const flagWins = await runCli(['install', '--apply', '--database-url', db().url], {
      env: { DATABASE_URL: UNREACHABLE },
    });
    expect(flagWins.code).toBe(0);
    const flagUnreachable = await runCli(['install', '--apply', '--database-url', UNREACHABLE], {
      env: { DATABASE_URL: db().url },
    });
    expect(flagUnreachable.code).toBe(2);
    expect(flagUnreachable.stderr).toContain('(from --database-url)');
  });

  it('exits 2 for a malformed URL and says what a valid one looks like', async () => {
    for (const url of ['not a url', 'mysql://root@localhost/db', 'postgres://u:%zz@host/db']) {
      const run = await runCli(['install', '--apply'], { env: { DATABASE_URL: url } });
      expect(run.code, url).toBe(2);
      expect(run.stderr, url).toMatch(
        /^threadline: DATABASE_URL is not a valid PostgreSQL URL \(.+\); it should look like postgres:\/\/USER:PASSWORD@HOST:5432\/DATABASE/,
      );
    }
  });

  it('exits 2 when the server is unreachable, without printing the password', async () => {
    const run = await runCli(['gen-triggers', '--dry-run', '--tables', 'posts'], {
      env: { DATABASE_URL: 'postgres://postgres:s3cret@127.0.0.1:1/postgres' },
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(
      /^threadline: could not connect to PostgreSQL at 127\.0\.0\.1:1\/postgres \(from DATABASE_URL\): .*ECONNREFUSED.*Is PostgreSQL running/,
    );
    expect(run.stderr).not.toContain('s3cret');
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('exits 2 when the database does not exist', async () => {
    const url = new URL(db().url);
    url.pathname = '/tl_cli_no_such_database';
    const run = await runCli(['install', '--apply'], { env: { DATABASE_URL: url.toString() } });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'database "tl_cli_no_such_database" does not exist. Create the database or fix its name in the URL.',
    );
  });
});
