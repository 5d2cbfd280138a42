import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ActorRef,
  createThreadline,
  isThreadlineError,
  RETENTION_CHANNELS,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { resolveRetentionPolicy } from '../src/retention/policy.js';
import { uniqueName } from './helpers.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'no error';
}

describe('retention policy validation', () => {
  it.each([
    [{ enabled: true, keepDays: 30, maxAgeSeconds: 60 }, /exactly one window.*not both/],
    [{ enabled: true }, /exactly one window.*not neither/],
    [{ enabled: true, keepDays: 0 }, /keepDays must be a whole number from 1/],
    [{ enabled: true, keepDays: '30' }, /keepDays must be a whole number/],
    [{ enabled: true, keepDays: 30, keepdays: 3 }, /unknown key "keepdays"/],
    [{ keepDays: 30 }, /enabled must be true or false/],
    [{ enabled: true, keepDays: 30, batchSize: -1 }, /batchSize must be a whole number/],
    ['30d', /must be an object/],
  ])('refuses %j', (policy, message) => {
    let error: unknown;
    try {
      resolveRetentionPolicy(policy);
    } catch (e) {
      error = e;
    }
    expect(isThreadlineError(error, 'CONFIG_INVALID')).toBe(true);
    expect((error as Error).message).toMatch(message);
  });

  it('fills the defaults', () => {
    expect(resolveRetentionPolicy({ enabled: true, keepDays: 2 })).toEqual({
      enabled: true,
      windowSeconds: 172_800,
      batchSize: 500,
      maxBatches: 10_000,
      sleepMs: 50,
      deleteEmptyTransactions: true,
      archive: null,
    });
  });
});

describeEachDb('retention purge', (db) => {
  let table: string;
  let tl: Threadline;

  /** Ground truth: which audit rows exist now. */
  async function snapshot(handle: DbHandle) {
    const changes = await handle.sql<{ id: string }>(
      `select id::text from threadline.audit_changes order by id`,
    );
    const txs = await handle.sql<{ id: string }>(
      `select id::text from threadline.audit_transactions order by id`,
    );
    const actions = await handle.sql<{ name: string }>(
      `select name from threadline.audit_actions order by name`,
    );
    return {
      changes: changes.map((r) => r.id),
      txs: txs.map((r) => r.id),
      actions: actions.map((r) => r.name),
    };
  }

  /** `n` transactions of one insert each by `actor`; returns their audit transaction ids. */
  async function write(n: number, first: number, actor = 'writer'): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user(actor) }, () =>
        tl.transaction((tx) => tx.query(`insert into ${table} values ($1, 'x')`, [first + i])),
      );
      ids.push(auditTransactionId!);
    }
    return ids;
  }

  /** Move audit rows of these transactions `days` into the past. */
  async function age(txIds: string[], days: number) {
    await db().sql(
      `update threadline.audit_changes set captured_at = captured_at - make_interval(days => $2) where transaction_id = any($1::bigint[])`,
      [txIds, days],
    );
    await db().sql(
      `update threadline.audit_transactions set occurred_at = occurred_at - make_interval(days => $2) where id = any($1::bigint[])`,
      [txIds, days],
    );
    await db().sql(
      `update threadline.audit_actions set inserted_at = inserted_at - make_interval(days => $2) where transaction_id = any($1::bigint[])`,
      [txIds, days],
    );
  }

  beforeAll(async () => {
    table = uniqueName('ret');
    await db().exec(`create table ${table} (id int primary key, note text)`);
    tl = createThreadline({ db: db().db, retention: { enabled: true, keepDays: 30, sleepMs: 0 } });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
  });

  it('refuses to purge without a policy or with a disabled one, and a cutoff newer than the policy', async () => {
    const none = createThreadline({ db: db().db });
    expect(await codeOf(none.retention.purge())).toMatch(/^RETENTION_DISABLED: .*no retention policy/);
    const off = createThreadline({ db: db().db, retention: { enabled: false, keepDays: 30 } });
    expect(await codeOf(off.retention.purge({ dryRun: true }))).toMatch(/^RETENTION_DISABLED: .*disabled/);
    expect(await codeOf(tl.retention.purge({ cutoff: new Date() }))).toMatch(
      /^QUERY_INVALID: .*newer than the policy allows/,
    );
    expect(await codeOf(tl.retention.purge({ batchSize: 0 }))).toMatch(/^QUERY_INVALID: .*batchSize/);
  });

  it('a dry run counts exactly what the run then deletes, and nothing newer goes', async () => {
    const old = await write(7, 1000);
    // An old transaction with an action and no change, and an old one whose action is linked.
    const actionOnly = await runWithAuditContext({ actor: ActorRef.admin('a') }, () =>
      tl.transaction(async () => {
        await tl.recordAction('old.action-only');
      }),
    );
    const linked = await runWithAuditContext({ actor: ActorRef.admin('a') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`insert into ${table} values (2000, 'linked')`);
        await tl.recordAction('old.linked');
      }),
    );
    await age([...old, actionOnly.auditTransactionId!, linked.auditTransactionId!], 40);
    const fresh = await write(3, 3000);
    await runWithAuditContext({ actor: ActorRef.admin('a') }, () =>
      tl.transaction(async () => void (await tl.recordAction('new.action'))),
    );
    const before = await snapshot(db());

    const dry = await tl.retention.purge({ dryRun: true });
    expect(dry).toMatchObject({
      dryRun: true,
      deletedChanges: 8,
      deletedTransactions: 9,
      deletedActions: 2,
      complete: true,
      droppedPartitions: 0,
    });
    expect(await snapshot(db())).toEqual(before);

    const real = await runWithAuditContext({ actor: ActorRef.admin('ops') }, () =>
      tl.retention.purge({ batchSize: 3 }),
    );
    expect(real).toMatchObject({
      dryRun: false,
      deletedChanges: 8,
      deletedTransactions: 9,
      deletedActions: 2,
      complete: true,
    });
    expect(real.batchesRun).toBeGreaterThanOrEqual(3);
    const after = await snapshot(db());
    const gone = new Set([...old, actionOnly.auditTransactionId!, linked.auditTransactionId!]);
    expect(after.txs).toEqual(before.txs.filter((id) => !gone.has(id)));
    expect(after.txs).toEqual(expect.arrayContaining(fresh));
    expect(after.changes).toHaveLength(before.changes.length - 8);
    expect(after.actions).toEqual(['new.action']);
    const runs = await tl.retention.runs({ limit: 2 });
    expect(runs.map((r) => [r.status, r.dryRun, r.deletedChanges, r.actor])).toEqual([
      ['completed', false, 8, { type: 'admin', id: 'ops' }],
      ['completed', true, 8, null],
    ]);
    expect(await tl.retention.purge()).toMatchObject({
      deletedChanges: 0,
      deletedTransactions: 0,
      complete: true,
    });
  });

  it('stops at maxBatches (complete: false) and the next run finishes the work', async () => {
    const old = await write(5, 4000);
    await age(old, 50);
    const first = await tl.retention.purge({ batchSize: 2, maxBatches: 1 });
    expect(first).toMatchObject({
      deletedChanges: 2,
      deletedTransactions: 2,
      batchesRun: 1,
      complete: false,
    });
    const second = await tl.retention.purge({ batchSize: 2 });
    expect(second).toMatchObject({ deletedChanges: 3, deletedTransactions: 3, complete: true });
  });

  it('an older cutoff purges only what is older than it', async () => {
    const veryOld = await write(2, 5000);
    const lessOld = await write(2, 5100);
    await age(veryOld, 100);
    await age(lessOld, 40);
    const cutoff = new Date(Date.now() - 70 * 86_400_000);
    expect(await tl.retention.purge({ cutoff, dryRun: true })).toMatchObject({
      deletedChanges: 2,
      deletedTransactions: 2,
    });
    expect(await tl.retention.purge({ cutoff })).toMatchObject({
      deletedChanges: 2,
      deletedTransactions: 2,
      cutoff: cutoff.toISOString(),
    });
    expect(await tl.retention.purge({ dryRun: true })).toMatchObject({
      deletedChanges: 2,
      deletedTransactions: 2,
    });
    await tl.retention.purge();
  });

  it('one run at a time: a live run is reported, a dead one is marked abandoned and its work finished', async () => {
    await db().sql(
      `insert into threadline.retention_runs (status, cutoff, dry_run) values ('running', now(), false)`,
    );
    expect(await codeOf(tl.retention.purge())).toMatch(
      /^RETENTION_RUNNING: retention.purge: purge run #\d+ is running since .*; wait for it/,
    );
    await db().sql(
      `update threadline.retention_runs set heartbeat_at = now() - interval '1 hour' where status = 'running'`,
    );
    const old = await write(2, 6000);
    await age(old, 45);
    expect(await tl.retention.purge()).toMatchObject({ deletedChanges: 2, complete: true });
    const runs = await tl.retention.runs({ limit: 5 });
    const abandoned = runs.find((r) => r.status === 'abandoned');
    expect(abandoned?.error).toMatch(/^no progress since .*: its process stopped$/);
    expect(runs.filter((r) => r.status === 'running')).toEqual([]);
  });

  it('publishes start, batch and end with counts only', async () => {
    const seen: [string, Record<string, unknown>][] = [];
    const listeners = Object.entries(RETENTION_CHANNELS).map(([event, name]) => {
      const fn = (m: unknown) => seen.push([event, m as Record<string, unknown>]);
      subscribe(name, fn);
      return [name, fn] as const;
    });
    try {
      const old = await write(2, 7000, 'secret-actor-id');
      await age(old, 45);
      await tl.retention.purge();
    } finally {
      for (const [name, fn] of listeners) unsubscribe(name, fn);
    }
    expect(seen.map(([e]) => e)).toEqual(['start', 'batch', 'batch', 'batch', 'end']);
    expect(JSON.stringify(seen)).not.toContain('secret-actor-id');
    expect(seen.at(-1)![1]).toMatchObject({ deletedChanges: 2, deletedTransactions: 2, complete: true });
  });

  it('purges actions recorded outside any transaction by age, and the dry run predicts batches and completeness', async () => {
    await runWithAuditContext({ actor: ActorRef.user('w') }, () => tl.recordAction('standalone.old'));
    await runWithAuditContext({ actor: ActorRef.user('w') }, () => tl.recordAction('standalone.new'));
    await db().sql(
      `update threadline.audit_actions set inserted_at = inserted_at - interval '400 days' where name = 'standalone.old'`,
    );
    const old = await write(16, 8000);
    await age(old, 45);
    for (const [batchSize, maxBatches] of [
      [4, 4],
      [4, 7],
      [100, 1],
      [100, 3],
    ] as const) {
      const dry = await tl.retention.purge({ dryRun: true, batchSize, maxBatches });
      expect(dry).toMatchObject({ deletedChanges: 16, deletedTransactions: 16, deletedActions: 1 });
      // Each phase (changes, the sweep for changeless transactions, standalone actions) ends with a
      // batch that finds less than a full one.
      const needed = Math.floor(16 / batchSize) + 1 + 1 + 1;
      expect(dry.batchesRun).toBe(needed);
      expect(dry.complete).toBe(needed <= maxBatches);
    }
    const real = await tl.retention.purge({ batchSize: 4, maxBatches: 7 });
    expect(real).toMatchObject({
      deletedChanges: 16,
      deletedTransactions: 16,
      deletedActions: 1,
      batchesRun: 7,
      complete: true,
    });
    const names = await db().sql<{ name: string }>(
      `select name from threadline.audit_actions where name like 'standalone.%'`,
    );
    expect(names).toEqual([{ name: 'standalone.new' }]);
  });
});
