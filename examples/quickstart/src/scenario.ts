import { ActorRef, runWithAuditContext, type Threadline } from '@threadline/core';
import { APP_SCHEMA } from './schema.js';

const s = APP_SCHEMA;

/** Writes as two different actors, in a few transactions, one of them with an action. */
export async function runScenario(tl: Threadline): Promise<void> {
  const alice = ActorRef.admin('alice');
  // 1. An admin onboards a customer: three tables in one transaction, recorded as an action.
  const { result: ids } = await runWithAuditContext(
    { actor: alice, correlationId: 'onboard-acme', requestId: 'req-1001' },
    () =>
      tl.transaction(async (tx) => {
        const org = await tx.query<{ id: number }>(
          `insert into ${s}.organizations (name) values ($1) returning id`,
          ['Acme'],
        );
        const user = await tx.query<{ id: number }>(
          `insert into ${s}.users (name, email, password_hash) values ($1, $2, $3) returning id`,
          ['Bob', 'bob@acme.test', '$2b$10$not-a-real-hash'],
        );
        const orgId = org.rows[0]!.id;
        const userId = user.rows[0]!.id;
        await tx.query(`insert into ${s}.memberships (org_id, user_id, role) values ($1, $2, 'member')`, [
          orgId,
          userId,
        ]);
        await tl.recordAction('customer.onboarded', { reason: 'signed contract', category: 'sales' });
        return { orgId, userId };
      }),
  );

  // 2. The new user works in the app: renames himself, drafts and sends an invoice.
  const bob = ActorRef.user(ids.userId);
  await runWithAuditContext({ actor: bob, correlationId: 'req-2001', requestId: 'req-2001' }, async () => {
    await tl.transaction(async (tx) => {
      await tx.query(`update ${s}.users set name = $1, last_seen_at = now() where id = $2`, [
        'Robert',
        ids.userId,
      ]);
      const inv = await tx.query<{ id: number }>(
        `insert into ${s}.invoices (org_id, amount_cents) values ($1, 4200) returning id`,
        [ids.orgId],
      );
      await tx.query(`update ${s}.invoices set status = 'sent', amount_cents = 4900 where id = $1`, [
        inv.rows[0]!.id,
      ]);
    });
    // Outside an explicit transaction: still attributed (tl.query binds in a short transaction).
    await tl.query(`insert into ${s}.invoices (org_id, amount_cents) values ($1, 1500)`, [ids.orgId]);
    // Only an ignored column changes: no audit row at all.
    await tl.query(`update ${s}.users set last_seen_at = now() where id = $1`, [ids.userId]);
  });

  // 3. The admin promotes him (a composite-key row), changes his email, deletes a draft, upgrades the plan.
  await runWithAuditContext({ actor: alice, correlationId: 'ticket-77' }, () =>
    tl.transaction(async (tx) => {
      await tx.query(`update ${s}.memberships set role = 'owner' where org_id = $1 and user_id = $2`, [
        ids.orgId,
        ids.userId,
      ]);
      await tx.query(`update ${s}.users set email = $1 where id = $2`, ['robert@acme.test', ids.userId]);
      const draft = await tx.query<{ id: number }>(
        `insert into ${s}.invoices (org_id, amount_cents) values ($1, 100) returning id`,
        [ids.orgId],
      );
      await tx.query(`delete from ${s}.invoices where id = $1`, [draft.rows[0]!.id]);
      await tx.query(`update ${s}.organizations set plan = 'pro' where id = $1`, [ids.orgId]);
    }),
  );
}
