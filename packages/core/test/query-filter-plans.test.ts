import { describeEachDb } from '@threadline/test-utils';
import type pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { ActorRef, runWithAuditContext, type Threadline } from '../src/index.js';
import { explainingThreadline, installed, type PlanNode, uniqueName } from './helpers.js';

function relationsScanned(node: PlanNode, out: string[] = []): string[] {
  if (node['Node Type'] === 'Seq Scan') out.push(node['Relation Name'] ?? '?');
  for (const child of node.Plans ?? []) relationsScanned(child, out);
  return out;
}

// The request, job and no-actor filters start from partial indexes on audit_transactions: with
// sequential scans priced out, no audit table may be read sequentially (a missing index shows up
// as a Seq Scan even then).
describeEachDb(
  'timeline and incident filters stay on indexes',
  (db) => {
    let tl: Threadline;
    let client: pg.PoolClient;
    let planOf: (run: () => Promise<unknown>) => Promise<PlanNode>;

    beforeAll(async () => {
      const t = uniqueName('plans');
      await db().exec(`create table ${t} (id int primary key, n int)`);
      const setup = await installed(db());
      await setup.installTriggers({ tables: [t] });
      for (let i = 0; i < 30; i++) {
        await runWithAuditContext(
          i % 3 === 0 ? { requestId: `r-${i}` } : { actor: ActorRef.user(`u${i}`), jobId: `j-${i}` },
          () => setup.query(`insert into ${t} values ($1, 0)`, [i]),
        );
      }
      client = await db().server!.pool.connect();
      ({ tl, planOf } = explainingThreadline(client, { enable_seqscan: 'off' }));
    });

    afterAll(() => client?.release());

    const seqScans = async (run: () => Promise<unknown>) => {
      return relationsScanned(await planOf(run)).filter((r) => r.startsWith('audit_'));
    };

    it('reads no audit table sequentially for requestId, jobId, actor: null and incident by request', async () => {
      expect(await seqScans(() => tl.timeline({ requestId: 'r-3' }))).toEqual([]);
      expect(await seqScans(() => tl.timeline({ jobId: 'j-4' }))).toEqual([]);
      expect(await seqScans(() => tl.timeline({ actor: null }))).toEqual([]);
      expect(await seqScans(() => tl.timeline({ actor: null, requestId: 'r-3' }, { pageSize: 5 }))).toEqual(
        [],
      );
      expect(await seqScans(() => tl.auditTransactions({ requestId: 'r-3' }))).toEqual([]);
      expect(await seqScans(() => tl.auditTransactions({ jobId: 'j-4' }))).toEqual([]);
    });
  },
  ['postgres'],
);
