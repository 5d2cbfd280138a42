import { createTestDatabase, PG_URL, postgresEnabled, type TestDatabase } from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createThreadline } from '../src/index.js';

/**
 * A database hardened with `ALTER DEFAULT PRIVILEGES ... REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC`:
 * functions Threadline creates are not executable by PUBLIC unless granted. An application role
 * with only its table's privileges must still write and be captured (SPEC 3: capture never makes a
 * write fail). The shared BEFORE STATEMENT function capture_statement_note failed every such write
 * before its grant.
 */
describe.runIf(postgresEnabled())('capture under default privileges that revoke EXECUTE from PUBLIC', () => {
  let server: TestDatabase;
  let app: pg.Client;
  const role = `tl_app_${process.pid}`;

  beforeAll(async () => {
    server = await createTestDatabase('tl_defpriv');
    await server.pool.query(`CREATE ROLE ${role} LOGIN`).catch(() => undefined);
    await server.pool.query('ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC');
    const tl = createThreadline({ db: server.pool });
    await tl.install();
    await server.pool.query('CREATE TABLE acct (id int primary key, v text)');
    await tl.installTriggers({ tables: ['acct'] });
    await server.pool.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON acct TO ${role}`);
    const url = new URL(server.url);
    url.username = role;
    url.password = '';
    app = new pg.Client({ connectionString: url.toString() });
    await app.connect();
  });

  afterAll(async () => {
    await app?.end();
    await server?.drop();
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    await admin.query(`DROP ROLE IF EXISTS ${role}`).finally(() => admin.end());
  });

  it('an application role writes and is captured with its actor', async () => {
    await app.query('BEGIN');
    await app.query(`SELECT set_config('threadline.actor_ref', '{"type":"user","id":"u1"}', true)`);
    await app.query(`INSERT INTO acct VALUES (1, 'a')`);
    await app.query(`UPDATE acct SET v = 'b' WHERE id = 1`);
    await app.query('COMMIT');
    const { rows } = await server.pool.query(
      `SELECT c.op, t.actor_ref->>'id' AS actor FROM threadline.audit_changes c
         JOIN threadline.audit_transactions t ON t.id = c.transaction_id ORDER BY c.id`,
    );
    expect(rows).toEqual([
      { op: 'insert', actor: 'u1' },
      { op: 'update', actor: 'u1' },
    ]);
  });
});
