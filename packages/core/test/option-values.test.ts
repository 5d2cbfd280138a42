import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it, vi } from 'vitest';
import {
  ActorRef,
  createThreadline,
  isThreadlineError,
  type PurgeResult,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { uniqueName } from './helpers.js';

/** The error a call ends with, as "CODE: message"; a TypeError (no code) shows as its class. */
async function failure(call: () => unknown): Promise<string> {
  try {
    await call();
  } catch (error) {
    return isThreadlineError(error) ? `${error.code}: ${error.message}` : `not a ThreadlineError: ${error}`;
  }
  return 'no error';
}

/**
 * Option values of the wrong type are refused, never read as truthy or falsy: a mistyped
 * `dryRun: 'true'` must not run a real purge. Schedules refuse unknown keys and pass the purge's
 * (or seal's) options to every run. A null options object gives a ThreadlineError, never a TypeError.
 */
describeEachDb('option values: booleans and numbers are checked, schedules pass options through', (db) => {
  let table: string;
  let tl: Threadline;
  let expiredTx: string;

  const changes = async () =>
    (await db().sql<{ n: number }>(`select count(*)::int as n from threadline.audit_changes`))[0]!.n;

  beforeAll(async () => {
    table = uniqueName('optv');
    await db().exec(`create table ${table} (id int primary key, note text)`);
    tl = createThreadline({ db: db().db, retention: { enabled: true, keepDays: 30, sleepMs: 0 } });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
    const { auditTransactionId } = await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
      tl.transaction((tx) => tx.query(`insert into ${table} values (1, 'x'), (2, 'y')`)),
    );
    expiredTx = auditTransactionId!;
    await db().sql(
      `update threadline.audit_changes set captured_at = captured_at - interval '400 days' where transaction_id = $1`,
      [expiredTx],
    );
  });

  it('purge refuses a dryRun that is not true or false, and null options, deleting nothing', async () => {
    for (const dryRun of ['true', 1, 'yes', 'false', 0, null]) {
      expect(await failure(() => tl.retention.purge({ dryRun } as never))).toMatch(
        /^QUERY_INVALID: retention\.purge: dryRun must be true or false, got /,
      );
    }
    expect(await failure(() => tl.retention.purge({ batchSize: '5' } as never))).toMatch(
      /^QUERY_INVALID: retention\.purge: batchSize must be a whole number from 1 to 10000000, got "5"/,
    );
    expect(await failure(() => tl.retention.purge({ onBatch: 'log' } as never))).toMatch(
      /^QUERY_INVALID: retention\.purge: onBatch must be a function/,
    );
    expect(await failure(() => tl.retention.purge(null as never))).toMatch(
      /^QUERY_INVALID: retention\.purge options must be an object \(or left out\), got null/,
    );
    expect(await changes()).toBe(2);
    expect(await tl.retention.runs()).toEqual([]);
  });

  it('retention.schedule refuses unknown keys, bad purge options and null; it passes dryRun and cutoff to every run', async () => {
    expect(await failure(() => tl.retention.schedule({ every: '1m', dryrun: true } as never))).toMatch(
      /^QUERY_INVALID: retention\.schedule options: unknown key "dryrun"; known keys are every, onRun, dryRun, batchSize, maxBatches, cutoff, actor, onBatch/,
    );
    expect(await failure(() => tl.retention.schedule({ every: '1m', dryRun: 'true' } as never))).toMatch(
      /^QUERY_INVALID: retention\.schedule: dryRun must be true or false/,
    );
    expect(await failure(() => tl.retention.schedule({ every: '1m', cutoff: 'soon' }))).toMatch(
      /^QUERY_INVALID: retention\.schedule: cutoff/,
    );
    expect(await failure(() => tl.retention.schedule(null as never))).toMatch(
      /^QUERY_INVALID: retention\.schedule options must be an object/,
    );
    const cutoff = new Date(Date.now() - 100 * 86_400_000).toISOString();
    const results: (PurgeResult | null)[] = [];
    let settle!: () => void;
    const ran = new Promise<void>((resolve) => {
      settle = resolve;
    });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let schedule: ReturnType<Threadline['retention']['schedule']>;
    try {
      schedule = tl.retention.schedule({
        every: '1m',
        dryRun: true,
        cutoff,
        onRun: (result, error) => {
          if (error) throw error;
          results.push(result);
          settle();
        },
      });
      vi.advanceTimersByTime(60_000);
    } finally {
      vi.useRealTimers();
    }
    await ran;
    await schedule.stop();
    expect(results).toEqual([expect.objectContaining({ dryRun: true, cutoff, deletedChanges: 2 })]);
    expect(await changes()).toBe(2);
  });

  it('integrity.schedule refuses unknown keys and null, and passes the seal options to every seal', async () => {
    expect(await failure(() => tl.integrity.schedule({ every: '1m', dryRun: true } as never))).toMatch(
      /^QUERY_INVALID: integrity\.schedule options: unknown key "dryRun"; known keys are every, onRun, chunkSize, waitMs, onLink/,
    );
    const links: unknown[] = [];
    let settle!: () => void;
    const ran = new Promise<void>((resolve) => {
      settle = resolve;
    });
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    let schedule: ReturnType<Threadline['integrity']['schedule']>;
    try {
      schedule = tl.integrity.schedule({ every: '1m', onLink: (l) => links.push(l), onRun: () => settle() });
      vi.advanceTimersByTime(60_000);
    } finally {
      vi.useRealTimers();
    }
    await ran;
    await schedule.stop();
    expect(links.length).toBeGreaterThan(0);
  });

  it('uninstall refuses dryRun or dropData that is not true or false, unknown keys and null, changing nothing', async () => {
    for (const options of [{ dryRun: 'false' }, { dryRun: 0 }, { dropData: 'true' }, { dropData: 1 }]) {
      expect(await failure(() => tl.uninstall(options as never))).toMatch(
        /^QUERY_INVALID: uninstall: (dryRun|dropData) must be true or false, got /,
      );
    }
    expect(await failure(() => tl.uninstall({ dryrun: false } as never))).toMatch(
      /^QUERY_INVALID: uninstall options: unknown key "dryrun"/,
    );
    expect(await failure(() => tl.uninstall(null as never))).toMatch(
      /^QUERY_INVALID: uninstall options must be an object/,
    );
    expect(await tl.installedVersion()).not.toBeNull();
    expect(await changes()).toBe(2);
  });

  it('revert.apply refuses a force that is not true or false, unknown keys and null', async () => {
    const plan = await tl.revert.plan({ transactionId: expiredTx });
    const actor = ActorRef.user('reverter');
    expect(await failure(() => tl.revert.apply(plan, { actor, force: 'true' } as never))).toMatch(
      /^QUERY_INVALID: revert\.apply: force must be true or false, got "true"/,
    );
    expect(await failure(() => tl.revert.apply(plan, { actor, forse: true } as never))).toMatch(
      /^QUERY_INVALID: revert\.apply options: unknown key "forse"/,
    );
    expect(await failure(() => tl.revert.apply(plan, null as never))).toMatch(
      /^QUERY_INVALID: revert\.apply options must be an object/,
    );
    expect(await changes()).toBe(2);
  });

  it('every other public method given null options answers or refuses with a ThreadlineError, never a TypeError', async () => {
    const calls: [string, () => unknown][] = [
      ['integrity.seal', () => tl.integrity.seal(null as never)],
      ['integrity.verify', () => tl.integrity.verify(null as never)],
      ['health.coverage', () => tl.health.coverage(null as never)],
      ['health.findings', () => tl.health.findings(null as never)],
      ['policy.show', () => tl.policy.show(null as never)],
      ['continuity.report', () => tl.continuity.report(null as never)],
      ['export.configure', () => tl.export.configure(null as never)],
      ['planTriggers', () => tl.planTriggers(null as never)],
      ['removeTriggers', () => tl.removeTriggers(null as never)],
      [
        'recordAction',
        () =>
          runWithAuditContext({ actor: ActorRef.user('a') }, () => tl.recordAction('x.done', null as never)),
      ],
    ];
    for (const [name, call] of calls) {
      const outcome = await failure(call);
      expect(`${name}: ${outcome}`).not.toMatch(/not a ThreadlineError/);
    }
  });
});
