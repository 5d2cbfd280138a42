import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

interface Attributed {
  op: string;
  tx: string;
  actor_ref: unknown;
  correlation_id: string | null;
  meta: Record<string, unknown> | null;
}

/**
 * threadline.transaction ("txid:id") is how capture finds the current audit transaction again.
 * A session can write it, so it must never let a session attach its changes (or an action) to
 * another transaction's audit row (issue 15, item 1).
 */
describeEachDb('the internal audit transaction setting cannot be forged', (db) => {
  async function victimAndTable() {
    const t = uniqueName('forge');
    await db().exec(`create table ${t} (id int primary key, v text)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`begin;
      select set_config('threadline.actor_ref', '{"type":"user","id":"victim"}', true),
             set_config('threadline.context', '{"correlationId":"victim-corr"}', true);
      insert into ${t} values (1, 'a'), (2, 'b'), (3, 'c');
      commit;`);
    const [victim] = await db().sql<{ id: string }>(
      `select t.id::text as id from threadline.audit_transactions t
         join threadline.audit_changes c on c.transaction_id = t.id where c.table_name = $1 limit 1`,
      [t],
    );
    return { t, victimId: victim!.id };
  }

  async function attributed(t: string): Promise<Attributed[]> {
    return db().sql<Attributed>(
      `select c.op, c.transaction_id::text as tx, t.actor_ref, t.correlation_id, t.meta
         from threadline.audit_changes c left join threadline.audit_transactions t on t.id = c.transaction_id
        where c.table_name = $1 order by c.id`,
      [t],
    );
  }

  const forgedNote = {
    threadline_context_error: {
      transaction: 'threadline.transaction was set by the session, not by Threadline (ignored)',
    },
  };

  it('a write under another transaction id gets its own audit transaction and is attributed to its own actor', async () => {
    const { t, victimId } = await victimAndTable();
    await db().exec(`begin;
      select set_config('threadline.actor_ref', '{"type":"user","id":"mallory"}', true);
      select set_config('threadline.transaction', txid_current() || ':' || ${victimId}, true);
      delete from ${t} where id = 2;
      commit;`);
    const rows = await attributed(t);
    expect(rows.map((r) => r.op)).toEqual(['insert', 'insert', 'insert', 'delete']);
    const del = rows[3]!;
    expect(del.tx).not.toBe(victimId);
    expect(del.actor_ref).toEqual({ type: 'user', id: 'mallory' });
    expect(del.correlation_id).toBeNull();
    expect(del.meta).toEqual(forgedNote);
    const victimRows = await db().sql<{ n: number }>(
      'select count(*)::int as n from threadline.audit_changes where transaction_id = $1',
      [victimId],
    );
    expect(victimRows[0]!.n).toBe(3);
  });

  it('a made-up or non-numeric id neither misattributes nor fails the write', async () => {
    const { t } = await victimAndTable();
    for (const forged of [
      "txid_current() || ':999999999'",
      "txid_current() || ':abc'",
      "txid_current() || ':99999999999999999999999'",
      "txid_current() || ':'",
      "'garbage'",
    ]) {
      await db().exec(`begin;
        select set_config('threadline.transaction', ${forged}, true);
        update ${t} set v = v || '!' where id = 1;
        commit;`);
    }
    const rows = (await attributed(t)).filter((r) => r.op === 'update');
    expect(rows).toHaveLength(5);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(5);
    for (const row of rows) expect(row.meta).toEqual(forgedNote);
  });

  it('overwriting the setting after the first write keeps one audit transaction and notes the attempt', async () => {
    const { t, victimId } = await victimAndTable();
    await db().exec(`begin;
      select set_config('threadline.actor_ref', '{"type":"user","id":"mallory"}', true);
      update ${t} set v = 'first' where id = 1;
      select set_config('threadline.transaction', txid_current() || ':' || ${victimId}, true);
      update ${t} set v = 'second' where id = 2;
      select set_config('threadline.transaction', 'garbage', true);
      delete from ${t} where id = 3;
      commit;`);
    const rows = (await attributed(t)).slice(3);
    expect(rows.map((r) => r.op)).toEqual(['update', 'update', 'delete']);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
    expect(rows[0]!.tx).not.toBe(victimId);
    expect(rows[0]!.actor_ref).toEqual({ type: 'user', id: 'mallory' });
    expect(rows[0]!.meta).toEqual(forgedNote);
  });

  it('record_action with p_link cannot rewrite action_id on another transaction', async () => {
    const { victimId } = await victimAndTable();
    const [linked] = await db().sql<{ action_id: string; transaction_id: string }>(
      `select a.action_id::text, a.transaction_id::text
         from (select set_config('threadline.transaction', txid_current() || ':' || $1::text, true) as forged) s,
         lateral threadline.record_action('approve', '{"type":"user","id":"mallory"}', 'ok', null, null, null, null,
                                          null, null, null, s.forged is not null) a`,
      [victimId],
    );
    expect(linked!.transaction_id).not.toBe(victimId);
    const [victim] = await db().sql<{ action_id: string | null }>(
      'select action_id::text from threadline.audit_transactions where id = $1',
      [victimId],
    );
    expect(victim!.action_id).toBeNull();
    const [own] = await db().sql<{ action_id: string | null; meta: unknown }>(
      'select action_id::text, meta from threadline.audit_transactions where id = $1',
      [linked!.transaction_id],
    );
    expect(own).toEqual({ action_id: linked!.action_id, meta: forgedNote });
  });

  it('the genuine setting still groups every statement of a transaction under one audit transaction', async () => {
    const { t } = await victimAndTable();
    await db().exec(`begin;
      insert into ${t} values (10, 'x');
      update ${t} set v = 'y' where id = 10;
      delete from ${t} where id = 10;
      commit;`);
    const rows = (await attributed(t)).slice(3);
    expect(rows.map((r) => r.op)).toEqual(['insert', 'update', 'delete']);
    expect(new Set(rows.map((r) => r.tx)).size).toBe(1);
    expect(rows[0]!.meta).toBeNull();
  });
});
