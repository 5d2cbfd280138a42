import { randomBytes } from 'node:crypto';
import type { PGlite } from '@electric-sql/pglite';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { BIND_CONTEXT_SQL } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

/** Run `fn` on one connection in a committed transaction as `role` (SET LOCAL ROLE). */
async function asRole(
  h: DbHandle,
  role: string,
  fn: (run: (sql: string, params?: unknown[]) => Promise<void>) => Promise<void>,
) {
  if (h.kind === 'postgres') {
    const c = await (h.db as pg.Pool).connect();
    try {
      await c.query(`begin; set local role ${role}`);
      await fn(async (sql, params) => void (await c.query(sql, params)));
      await c.query('commit');
    } catch (error) {
      await c.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      c.release();
    }
    return;
  }
  const lite = h.db as PGlite;
  await lite.exec(`begin; set local role ${role}`);
  try {
    await fn(async (sql, params) => void (await lite.query(sql, params)));
    await lite.exec('commit');
  } catch (error) {
    await lite.exec('rollback').catch(() => undefined);
    throw error;
  }
}

/** Operators a session could put ahead of pg_catalog's: every one the capture fast paths use. */
const HIJACKED: [op: string, left: string, right: string, result: string][] = [
  ['=', 'bigint', 'bigint', 'boolean'],
  ['=', 'text', 'text', 'boolean'],
  ['=', 'timestamptz', 'timestamptz', 'boolean'],
  ['<>', 'text', 'text', 'boolean'],
  ['>', 'integer', 'integer', 'boolean'],
  ['<=', 'integer', 'integer', 'boolean'],
  ['+', 'integer', 'integer', 'integer'],
  ['-', 'integer', 'integer', 'integer'],
  ['*', 'bigint', 'interval', 'interval'],
  ['+', 'timestamptz', 'interval', 'timestamptz'],
];

/**
 * current_transaction_id() runs on every captured statement with its owner's rights and, for
 * speed, without a SET search_path clause (any role may call it directly, too): every type, function and operator in it is named with
 * its schema. A session that puts its own schema ahead of pg_catalog (and pg_temp after it) with
 * look-alike operators must not get them called, neither with the owner's rights nor at all.
 */
describeEachDb('capture functions without a SET search_path clause cannot be hijacked', (db) => {
  const role = `tl_sp_${randomBytes(4).toString('hex')}`;
  const own = `${role}_own`;
  let table: string;

  beforeAll(async () => {
    table = uniqueName('sp_ledger');
    const tl = await installed(db());
    await db().exec(`create role ${role} nologin;
      create table ${table} (id int primary key, v text);
      grant select, insert, update on ${table} to ${role};
      create schema ${own} authorization ${role};`);
    await tl.installTriggers({ tables: [table] });
  });

  afterAll(async () => {
    await db().exec(`drop table if exists ${table}; drop schema if exists ${own} cascade;
      drop owned by ${role}; drop role if exists ${role};`);
  });

  it('never calls the session’s look-alike operators; the transaction is captured and attributed once', async () => {
    await asRole(db(), role, async (run) => {
      for (const [i, [op, left, right, result]] of HIJACKED.entries()) {
        await run(`create function ${own}.evil_${i}(${left}, ${right}) returns ${result} language plpgsql as $f$
          begin raise exception 'hijacked: operator % ran as %', '${op}', current_user; end $f$`);
        await run(
          `create operator ${own}.${op} (leftarg = ${left}, rightarg = ${right}, function = ${own}.evil_${i})`,
        );
      }
    });
    // The session's operator really is the one its unqualified SQL gets with this search_path.
    await expect(
      asRole(db(), role, async (run) => {
        await run(`set local search_path = ${own}, pg_catalog, pg_temp`);
        await run('select 1::bigint = 1::bigint');
      }),
    ).rejects.toThrow(/hijacked: operator = ran as/);
    await asRole(db(), role, async (run) => {
      await run(`set local search_path = ${own}, pg_catalog, pg_temp`);
      await run(BIND_CONTEXT_SQL, ['{"type":"user","id":"sp-user"}', '{"correlationId":"sp-corr"}']);
      await run(`insert into public.${table} values (1, 'a')`);
      await run(`insert into public.${table} values (2, 'b')`);
      await run(`update public.${table} set v = 'c' where id = 1`);
      // Capture calls it with its own search_path; a session may call it directly, with the session's.
      await run('select threadline.current_transaction_id()');
    });
    const rows = await db().sql<{ op: string; tx: string; actor: string; corr: string; meta: unknown }>(
      `select c.op, c.transaction_id::text as tx, t.actor_ref->>'id' as actor, t.correlation_id as corr, t.meta
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by c.id`,
      [table],
    );
    expect(rows.map((r) => r.op)).toEqual(['insert', 'insert', 'update']);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
    expect(rows[0]).toMatchObject({ actor: 'sp-user', corr: 'sp-corr', meta: null });
  });
});
