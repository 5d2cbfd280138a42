import { spawnSync } from 'node:child_process';
import { beforeAll, expect, it } from 'vitest';
import { BIN, describeWithDatabase, ensureBuilt, PACKAGE_DIR, sql, tempDir } from './helpers.js';

function threadline(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}) {
  const { PATH, HOME } = process.env;
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: options.cwd ?? tempDir(),
    env: { PATH, HOME, ...options.env },
    encoding: 'utf8',
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

// A child that writes through node-postgres (so Knex, TypeORM and other pg-based tools alike).
const NODE_PG_WRITE = `
const pg = require('pg');
const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
client.connect()
  .then(() => client.query("insert into seeds values (2, 'from node-postgres')"))
  .then(() => client.end(), (e) => { console.error(e); process.exit(1); });
`;

interface Attributed {
  id: number;
  actor_ref: unknown;
  source: string;
  correlation_id: string;
}

describeWithDatabase('threadline exec', (db) => {
  beforeAll(async () => {
    ensureBuilt();
    await sql(db(), 'CREATE TABLE seeds (id int PRIMARY KEY, note text)');
    const env = { DATABASE_URL: db().url };
    expect(threadline(['install', '--apply'], { env }).code).toBe(0);
    expect(threadline(['gen-triggers', '--apply', '--tables', 'seeds'], { env }).code).toBe(0);
  });

  async function attributed(): Promise<Attributed[]> {
    return sql<Attributed>(
      db(),
      `select (c.table_pk->>'id')::int as id, t.actor_ref, t.source, t.correlation_id
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = 'seeds' order by c.id`,
    );
  }

  it('attributes the writes of a psql child and a node-postgres child to --actor and --source', async () => {
    const env = { DATABASE_URL: db().url };
    const viaPsql = threadline(
      [
        'exec',
        '--actor',
        'system:migrations',
        '--source',
        'seed script \\ v1',
        '--correlation-id',
        'corr-exec-1',
        '--',
        'psql',
        db().url,
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        "insert into seeds values (1, 'from psql')",
      ],
      { env },
    );
    expect(viaPsql.stderr).toBe(
      'threadline exec: system:migrations, source seed script \\ v1, correlation id corr-exec-1\n',
    );
    expect(viaPsql.code).toBe(0);
    const viaNode = threadline(
      [
        'exec',
        '--actor',
        'user:42',
        '--correlation-id',
        'corr-exec-2',
        '--',
        process.execPath,
        '-e',
        NODE_PG_WRITE,
      ],
      { env, cwd: PACKAGE_DIR },
    );
    expect(viaNode.code).toBe(0);
    expect(await attributed()).toEqual([
      {
        id: 1,
        actor_ref: { type: 'system', id: 'migrations' },
        source: 'seed script \\ v1',
        correlation_id: 'corr-exec-1',
      },
      {
        id: 2,
        actor_ref: { type: 'user', id: '42' },
        source: 'threadline:exec',
        correlation_id: 'corr-exec-2',
      },
    ]);
    // Only the child had the binding: a write from outside `exec` carries none.
    await sql(db(), "insert into seeds values (3, 'outside')");
    const outside = (await attributed()).find((row) => row.id === 3);
    expect(outside).toEqual({ id: 3, actor_ref: null, source: null, correlation_id: null });
  });

  it('carries actor ids and sources with spaces, backslashes, quotes and non-ASCII intact', async () => {
    const env = { DATABASE_URL: db().url };
    const actorId = 'ops team \\ "night" ü -c x';
    const run = threadline(
      [
        'exec',
        '--actor',
        `service_account:${actorId}`,
        '--source',
        "l'été -c threadline.actor_ref=x",
        '--correlation-id',
        'corr-exec-3',
        '--',
        'psql',
        db().url,
        '-v',
        'ON_ERROR_STOP=1',
        '-c',
        "insert into seeds values (10, 'hostile')",
      ],
      { env },
    );
    expect(run.code, run.stderr).toBe(0);
    expect((await attributed()).find((row) => row.id === 10)).toEqual({
      id: 10,
      actor_ref: { type: 'service_account', id: actorId },
      source: "l'été -c threadline.actor_ref=x",
      correlation_id: 'corr-exec-3',
    });
  });

  it("exits with the child's exit code, and 2 on a usage error", () => {
    const failing = threadline([
      'exec',
      '--actor',
      'system:seed',
      '--',
      process.execPath,
      '-e',
      'process.exit(3)',
    ]);
    expect(failing.code).toBe(3);
    const noActor = threadline(['exec', '--', 'true']);
    expect(noActor.code).toBe(2);
    expect(noActor.stderr).toMatch(/^threadline: --actor is required, e\.g\. --actor system:migrations\n/);
    const badActor = threadline(['exec', '--actor', 'nobody', '--', 'true']);
    expect(badActor.code).toBe(2);
    expect(badActor.stderr).toMatch(/^threadline: ActorRef\.fromString: expected "type:id"/);
    const noCommand = threadline(['exec', '--actor', 'system:seed']);
    expect(noCommand.code).toBe(2);
    expect(noCommand.stderr).toMatch(/^threadline: missing <command>/);
  });
});
