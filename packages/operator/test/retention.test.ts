import { ActorRef, createThreadline, type Threadline } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperatorSurface, type OperatorSurface } from '../src/surface.js';
import { type Fixture, openFixture } from './fixture.js';

const run = postgresEnabled() ? describe : describe.skip;

run('operator surface: retention page and purge', () => {
  let fx: Fixture;
  let tl: Threadline;
  let surface: OperatorSurface;
  beforeAll(async () => {
    fx = await openFixture();
    tl = createThreadline({ db: fx.db.pool, retention: { enabled: true, keepDays: 30, sleepMs: 0 } });
    // The first ten audit transactions are 40 days old.
    await fx.db.pool.query(
      `update threadline.audit_changes set captured_at = captured_at - interval '40 days' where transaction_id <= 10;
       update threadline.audit_transactions set occurred_at = occurred_at - interval '40 days' where id <= 10;`,
    );
    surface = createOperatorSurface({
      threadline: tl,
      authorize: () => ({ actor: ActorRef.admin('pruner'), canPrune: true }),
    });
  });
  afterAll(async () => {
    await fx?.close();
  });

  const token = async () =>
    /name="csrf" value="([^"]+)"/.exec(
      await (await surface.fetch(new Request('http://x/retention'))).text(),
    )![1]!;
  const purge = async (confirm: string) =>
    surface.fetch(
      new Request('http://x/retention/purge', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ confirm, csrf: await token() }).toString(),
      }),
    );
  const count = async () =>
    Number((await fx.db.pool.query('select count(*) from threadline.audit_changes')).rows[0].count);

  it('shows the policy and a dry-run preview that deletes nothing', async () => {
    const before = await count();
    const page = await (await surface.fetch(new Request('http://x/retention?preview=1'))).text();
    expect(page).toContain('changes older than <strong>30 days</strong>');
    expect(page).toContain('A purge now would delete 10 changes and 10 transactions');
    expect(await count()).toBe(before);
  });

  it('purges only after the typed confirmation, as the operator, and records it', async () => {
    const before = await count();
    const wrong = await purge('purge');
    expect(wrong.status).toBe(400);
    expect(await wrong.text()).toContain('Nothing was purged');
    expect(await count()).toBe(before);
    const ok = await purge('purge audit data');
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/Purge run #\d+ deleted 10 changes and 10 transactions\./);
    expect(await count()).toBe(before - 10);
    const runs = await tl.retention.runs();
    expect(runs.map((r) => [r.status, r.dryRun, r.deletedChanges, r.actor])).toEqual([
      ['completed', false, 10, { type: 'admin', id: 'pruner' }],
      ['completed', true, 10, { type: 'admin', id: 'pruner' }],
    ]);
    const actions = await fx.db.pool.query(
      `select name, actor_ref from threadline.audit_actions where name = 'threadline.retention.purge'`,
    );
    expect(actions.rows).toEqual([
      { name: 'threadline.retention.purge', actor_ref: { type: 'admin', id: 'pruner' } },
    ]);
    const page = await (await surface.fetch(new Request('http://x/retention'))).text();
    expect(page).toMatch(/<td>completed<\/td><td>no<\/td>.*<td>10<\/td><td>10<\/td><td>admin:pruner<\/td>/);
  });
});
