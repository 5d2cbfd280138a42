import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, type Threadline } from '../src/index.js';
import { uniqueName } from './helpers.js';

type Call = (tl: Threadline, table: string, options: Record<string, unknown>) => Promise<unknown>;

/** Every method that takes an options object, with the name its errors carry. */
const OPTION_CALLS: [string, Call][] = [
  ['history', (tl, t, o) => tl.history(t, { id: 1 }, o)],
  ['asOf', (tl, t, o) => tl.asOf(t, { id: 1 }, new Date(), o)],
  ['actorHistory', (tl, _t, o) => tl.actorHistory(ActorRef.user('u'), o)],
  ['timeline', (tl, _t, o) => tl.timeline({}, o)],
  ['auditTransaction', (tl, _t, o) => tl.auditTransaction(1, o)],
  ['auditTransactions', (tl, _t, o) => tl.auditTransactions({ requestId: 'r' }, o)],
  ['export.count', (tl, _t, o) => tl.export.count({}, o)],
  ['health.coverage', (tl, _t, o) => tl.health.coverage(o)],
  ['health.findings', (tl, _t, o) => tl.health.findings(o)],
  ['health.verify', (tl, t, o) => tl.health.verify({ expectedTables: [t], ...o })],
  ['policy.show', (tl, _t, o) => tl.policy.show(o)],
  ['continuity.report', (tl, _t, o) => tl.continuity.report(o)],
  ['continuity.baseline', (tl, t, o) => tl.continuity.baseline({ table: t, ...o })],
  ['integrity.verify', (tl, _t, o) => tl.integrity.verify(o)],
  ['integrity.seal', (tl, _t, o) => tl.integrity.seal(o)],
  ['retention.runs', (tl, _t, o) => tl.retention.runs(o)],
  ['retention.purge', (tl, _t, o) => tl.retention.purge({ dryRun: true, ...o })],
  ['storage.maintain', (tl, _t, o) => tl.storage.maintain(o)],
];

/** The reads that accept `consistency`. */
const READS = new Set([
  'history',
  'asOf',
  'actorHistory',
  'timeline',
  'auditTransaction',
  'auditTransactions',
  'export.count',
  'health.coverage',
  'health.findings',
  'health.verify',
  'policy.show',
  'continuity.report',
]);

describeEachDb('option objects: unknown keys and a bad consistency name the method', (db) => {
  let tl: Threadline;
  let t: string;

  it('installs', async () => {
    t = uniqueName('opts');
    await db().exec(`create table ${t} (id int primary key, v text)`);
    tl = createThreadline({ db: db().db, retention: { enabled: true, keepDays: 30 } });
    await tl.install();
    await tl.installTriggers({ tables: [t] });
  });

  it.each(OPTION_CALLS)(
    '%s refuses an unknown option key with QUERY_INVALID naming it',
    async (name, call) => {
      await expect(call(tl, t, { bogusKey: 1 })).rejects.toMatchObject({
        code: 'QUERY_INVALID',
        message: expect.stringMatching(
          new RegExp(
            `^${name.replace('.', '\\.')} (options|filters): unknown key "bogusKey"; known keys are `,
          ),
        ),
      });
    },
  );

  it.each(OPTION_CALLS.filter(([name]) => READS.has(name)))(
    '%s names itself when consistency is not primary or replica',
    async (name, call) => {
      await expect(call(tl, t, { consistency: 'nearest' })).rejects.toMatchObject({
        code: 'QUERY_INVALID',
        message: expect.stringMatching(`^${name.replace('.', '\\.')}: consistency must be 'primary'`),
      });
    },
  );

  it('export.stream (errors say export:) and export.toBuffer name themselves for a bad consistency and an unknown key', async () => {
    const actor = ActorRef.user('auditor');
    const stream = async (o: Record<string, unknown>) => tl.export.stream({}, { format: 'csv', actor, ...o });
    const buffer = (o: Record<string, unknown>) => tl.export.toBuffer({}, { format: 'csv', actor, ...o });
    await expect(stream({ consistency: 'nearest' })).rejects.toThrow(
      /^export: consistency must be 'primary'/,
    );
    await expect(buffer({ consistency: 'nearest' })).rejects.toThrow(
      /^export\.toBuffer: consistency must be 'primary'/,
    );
    await expect(stream({ bogusKey: 1 })).rejects.toThrow(/^export options: unknown key "bogusKey"/);
    await expect(buffer({ bogusKey: 1 })).rejects.toThrow(
      /^export\.toBuffer options: unknown key "bogusKey"/,
    );
  });

  it('actorHistory names itself for a bad window and page size too (it reads through the timeline)', async () => {
    await expect(tl.actorHistory(ActorRef.user('u'), { from: 'yesterday' })).rejects.toThrow(
      /^actorHistory: from/,
    );
    await expect(tl.actorHistory(ActorRef.user('u'), { pageSize: 0 })).rejects.toThrow(
      /^actorHistory: pageSize/,
    );
  });
});
