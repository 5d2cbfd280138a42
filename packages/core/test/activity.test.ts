import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { ActorRef, isThreadlineError, runWithAuditContext, type Threadline } from '../src/index.js';
import { installed } from './helpers.js';

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'resolved';
}

describeEachDb('tl.activity: changes and transactions per bucket with the timeline filters', (db) => {
  let tl: Threadline;

  beforeAll(async () => {
    await db().exec(
      'create table acts (id int primary key, v text); create table other (id int primary key)',
    );
    tl = await installed(db());
    await tl.installTriggers({ tables: ['acts', 'other'] });
    await runWithAuditContext({ actor: ActorRef.user('ann') }, async () => {
      await tl.transaction(async (tx) => {
        await tx.query(`insert into acts select g, 'x' from generate_series(1, 5) g`);
      });
      await tl.query(`insert into acts values (6, 'y')`);
    });
    await runWithAuditContext({ actor: ActorRef.user('bob') }, () =>
      tl.query('insert into other values (1)'),
    );
    // Move the changes into known hours (2026-01-01 10:xx and 12:xx UTC).
    await db().exec(`update threadline.audit_changes set captured_at = '2026-01-01T10:15:00Z' where table_name = 'acts' and (table_pk->>'id')::int <= 5;
      update threadline.audit_changes set captured_at = '2026-01-01T12:59:59.999999Z' where table_name = 'acts' and (table_pk->>'id')::int = 6;
      update threadline.audit_changes set captured_at = '2026-01-01T12:00:00Z' where table_name = 'other';`);
  });

  it('counts per hour over the window, empty buckets included, with the timeline filters', async () => {
    const window = { from: '2026-01-01T10:00:00Z', to: '2026-01-01T13:30:00Z' };
    const all = await tl.activity({ ...window, bucket: 'hour' });
    expect(all.bucket).toBe('hour');
    expect(all.buckets).toEqual([
      { start: '2026-01-01T10:00:00Z', changes: 5, transactions: 1 },
      { start: '2026-01-01T11:00:00Z', changes: 0, transactions: 0 },
      { start: '2026-01-01T12:00:00Z', changes: 2, transactions: 2 },
      { start: '2026-01-01T13:00:00Z', changes: 0, transactions: 0 },
    ]);
    const acts = await tl.activity({ ...window, bucket: 'hour', table: 'acts' });
    expect(acts.buckets.map((b) => b.changes)).toEqual([5, 0, 1, 0]);
    const bob = await tl.activity({ ...window, bucket: 'hour', actor: 'user:bob' });
    expect(bob.buckets.map((b) => b.changes)).toEqual([0, 0, 1, 0]);
    const day = await tl.activity({ ...window, bucket: 'day' });
    expect(day.buckets).toEqual([{ start: '2026-01-01T00:00:00Z', changes: 7, transactions: 3 }]);
    // Same totals as the timeline with the same filters.
    const page = await tl.timeline({ ...window, table: 'acts' }, { pageSize: 100 });
    expect(acts.buckets.reduce((n, b) => n + b.changes, 0)).toBe(page.entries.length);
  });

  it('chooses a bucket from the window; hostile buckets and windows are clear errors', async () => {
    expect((await tl.activity({ from: '2026-01-01T00:00:00Z', to: '2026-01-01T01:00:00Z' })).bucket).toBe(
      'minute',
    );
    expect((await tl.activity({ from: '2026-01-01T00:00:00Z', to: '2026-01-01T06:00:00Z' })).bucket).toBe(
      'hour',
    );
    expect((await tl.activity({ from: '2026-01-01', to: '2026-01-20' })).bucket).toBe('day');
    expect((await tl.activity({})).buckets.length).toBeGreaterThanOrEqual(24);
    for (const bucket of ["hour'; drop table acts; --", 'year', '', 3, { a: 1 }, 'HOUR'])
      expect(await rejection(tl.activity({ bucket: bucket as never }))).toMatch(
        /^QUERY_INVALID: activity: bucket must be one of minute, hour, day, week, month, got /,
      );
    expect(await rejection(tl.activity({ from: '2000-01-01', to: '2026-01-01', bucket: 'minute' }))).toMatch(
      /^QUERY_INVALID: activity: .* more than 1000; choose a larger bucket or a shorter window$/,
    );
    expect(await rejection(tl.activity({ nope: 1 } as never))).toMatch(
      /^QUERY_INVALID: timeline filters: unknown key "nope"/,
    );
    expect(await rejection(tl.activity({ from: 'not a date' }))).toMatch(/^QUERY_INVALID: /);
    // Valid instants whose window reaches the years 0 or 10000 in UTC.
    for (const window of [
      { from: '0001-01-01T05:00:00+15:00', to: '0001-01-01T20:00:00Z', bucket: 'hour' as const },
      { to: '0001-01-01T05:00:00Z' },
      { from: '9999-12-31T20:00:00-15:00', to: '9999-12-31T23:00:00-15:00', bucket: 'hour' as const },
    ])
      expect(await rejection(tl.activity(window))).toMatch(
        /^QUERY_INVALID: activity: .* reaches outside the years 0001-9999 in UTC; choose a window within them$/,
      );
    expect(
      (await tl.activity({ from: '0001-01-01T00:00:00Z', to: '0001-01-01T05:00:00Z' })).buckets.length,
    ).toBe(6);
  });
});
