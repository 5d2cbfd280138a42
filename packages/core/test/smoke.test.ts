import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, runWithAuditContext } from '../src/index.js';

describeEachDb('smoke', (db) => {
  it('installs, captures and attributes', async () => {
    const tl = createThreadline({ db: db().db });
    const installed = await tl.install();
    expect(installed.schemaVersion).toBe(1);
    await db().exec('create table posts (id bigserial primary key, title text not null, email text)');
    await tl.installTriggers({ tables: ['posts'] });
    const out = await runWithAuditContext({ actor: ActorRef.user(7), correlationId: 'c-1' }, () =>
      tl.transaction(async (tx) => {
        await tx.query('insert into posts (title) values ($1)', ['hello']);
        return 'done';
      }),
    );
    expect(out.result).toBe('done');
    expect(out.auditTransactionId).toMatch(/^\d+$/);
    const rows = await db().sql<{ actor_ref: unknown; correlation_id: string }>(
      'select actor_ref, correlation_id from threadline.audit_transactions where id = $1',
      [out.auditTransactionId],
    );
    expect(rows[0]).toEqual({ actor_ref: { type: 'user', id: '7' }, correlation_id: 'c-1' });
  });
});
