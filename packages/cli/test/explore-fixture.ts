import { ActorRef, createThreadline, runWithAuditContext, type Threadline } from '@threadline/core';
import type { TestDatabase } from '@threadline/test-utils';

/** Text that would steer a terminal if printed raw: ESC sequences, C1 CSI, bidi override, newline. */
export const HOSTILE = 'evil\x1b[31mRED\x1b[0m\u009b2J\u202Egnp.exe\nnext line\x07';

export interface ExploreFixture {
  tl: Threadline;
  /** Instants between the steps (UTC ISO with microseconds). */
  marks: Record<'start' | 'afterInsert' | 'afterUpdate' | 'afterPublish' | 'afterDelete', string>;
  /** The audit transaction that published post 42 (has an action). */
  publishTx: string;
}

const tick = () => new Promise((r) => setTimeout(r, 3));

/**
 * The audited tables of the exploration tests and docs/support-questions.md:
 * posts (bigint id, email masked), members (composite key), docs (uuid key), tags (text key),
 * legacy (a row that existed before capture was installed).
 */
export async function loadExploreFixture(db: TestDatabase): Promise<ExploreFixture> {
  await db.pool.query(`
    create table posts (id bigint primary key, title text, email text, status text);
    create table members (org_id int, user_id int, role text, primary key (org_id, user_id));
    create table docs (id uuid primary key, body text);
    create table tags (code text primary key, label text);
    create table legacy (id int primary key, v text);
    insert into legacy values (1, 'existed before capture');`);
  const tl = createThreadline({ db: db.pool, tables: { posts: { mask: ['email'] } } });
  await tl.install();
  await tl.installTriggers({ tables: ['posts', 'members', 'docs', 'tags', 'legacy'] });
  const marks = {} as ExploreFixture['marks'];
  const mark = async (name: keyof ExploreFixture['marks']) => {
    await tick();
    const { rows } = await db.pool.query(
      `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
    );
    marks[name] = rows[0].t;
    await tick();
  };
  const alice = { actor: ActorRef.user('alice'), correlationId: 'corr-a' };
  const bob = { actor: ActorRef.user('bob'), correlationId: 'corr-b' };
  await mark('start');
  await runWithAuditContext(alice, () => tl.query(`insert into posts values (42, 'draft', 'a@x', 'draft')`));
  await mark('afterInsert');
  await runWithAuditContext(bob, () =>
    tl.query(`update posts set title = 'v2', email = 'b@x' where id = 42`),
  );
  await mark('afterUpdate');
  const published = await runWithAuditContext({ ...alice, requestId: 'req-7' }, () =>
    tl.transaction(async (tx) => {
      await tx.query(`update posts set status = 'published' where id = 42`);
      await tl.recordAction('post.published', { correlationId: 'corr-action', reason: 'editor approved' });
    }),
  );
  await mark('afterPublish');
  await runWithAuditContext(bob, () => tl.query('delete from posts where id = 42'));
  await mark('afterDelete');
  await runWithAuditContext(alice, () =>
    tl.query(`insert into members values (1, 2, 'member'), (1, 3, 'member')`),
  );
  await runWithAuditContext(bob, () =>
    tl.query(`update members set role = 'owner' where org_id = 1 and user_id = 2`),
  );
  await runWithAuditContext({ actor: ActorRef.serviceAccount('importer') }, () =>
    tl.query(`insert into docs values ('6f1c1f3e-9d5a-4c87-9b61-2f4a1f6d1c11', 'x')`),
  );
  await runWithAuditContext({ actor: ActorRef.user('carol'), correlationId: 'corr-tags' }, () =>
    tl.query(`insert into tags values ('ABC-7', 'first'), ('7', 'numeric-looking text key')`),
  );
  await tl.query(`update legacy set v = 'changed' where id = 1`);
  return { tl, marks, publishTx: published.auditTransactionId! };
}
