import type { PGlite } from '@electric-sql/pglite';
import { describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { beforeAll, expect, it } from 'vitest';
import { ActorRef, runWithAuditContext } from '../src/index.js';
import { purgeSql } from '../src/retention/purge-sql.js';
import { installed } from './helpers.js';

// A purge batch's cost must follow what it deletes, not what it keeps: every lookup of the
// statements that delete empty transactions and their actions (and the dry-run count of actions)
// goes through an index. With sequential scans disabled, a plan still showing one has no index
// path at all (an OR of two links, a hashed subplan), which is what made the purge slow down with
// the audit_actions and audit_transactions it keeps.
describeEachDb('retention purge statements use indexes', (db) => {
  const sql = purgeSql('"threadline"');

  /** EXPLAIN on one connection with sequential scans disabled. */
  async function plan(text: string, params: unknown[]): Promise<string> {
    const handle = db();
    const explain = async (c: { query(t: string, p?: unknown[]): Promise<{ rows: unknown[] }> }) => {
      await c.query('set enable_seqscan = off');
      try {
        const { rows } = await c.query(`explain ${text}`, params);
        return (rows as { 'QUERY PLAN': string }[]).map((r) => r['QUERY PLAN']).join('\n');
      } finally {
        await c.query('reset enable_seqscan');
      }
    };
    if (handle.kind === 'pglite') return explain(handle.db as PGlite);
    const client = await (handle.db as pg.Pool).connect();
    try {
      return await explain(client);
    } finally {
      client.release();
    }
  }

  beforeAll(async () => {
    await db().exec('create table pp (id int primary key, v int)');
    const tl = await installed(db());
    await tl.installTriggers({ tables: ['pp'] });
    for (let i = 0; i < 20; i++)
      await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
        tl.transaction(async (tx) => {
          await tl.recordAction('do.thing');
          await tx.query(`insert into pp values (${i}, ${i})`);
        }),
      );
    await db().exec('analyze');
  });

  it('deleteEmpty: no sequential scan of audit_actions or audit_transactions', async () => {
    const text = await plan(sql.deleteEmpty, [[1, 2, 3], '2026-01-01T00:00:00Z']);
    expect(text).not.toMatch(/Seq Scan on audit_actions/);
    expect(text).not.toMatch(/Seq Scan on audit_transactions/);
  });

  it('the dry-run count of actions: no sequential scan of audit_actions, no OR of the two links', async () => {
    const text = await plan(sql.count, ['2026-01-01T00:00:00Z', true, []]);
    expect(text).not.toMatch(/Seq Scan on audit_actions/);
    // (t.id = x.transaction_id OR t.action_id = x.id): every action, kept ones included, visited.
    expect(text).not.toMatch(/(Filter|Cond): .* OR \(\w*\.?action_id = /);
  });
});
