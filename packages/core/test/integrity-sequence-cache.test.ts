import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { ActorRef, createThreadline, isThreadlineError, runWithAuditContext } from '../src/index.js';
import { uniqueName } from './helpers.js';

describeEachDb('integrity: audit id sequences hand out one id at a time', (db) => {
  it('a CACHE above 1 makes seal refuse (naming the fix) and health report it; install sets CACHE 1 again', async () => {
    const schema = uniqueName('seqcache');
    const table = uniqueName('sc');
    await db().exec(`create table ${table} (id int primary key)`);
    const tl = createThreadline({ db: db().db, schema });
    await tl.install();
    await tl.installTriggers({ tables: [table] });
    const s = `"${schema}"`;
    const caches = async () =>
      (
        await db().sql<{ cache: number }>(
          `select s.seqcache::int as cache from unnest(array['audit_changes', 'audit_transactions']) t
             join pg_sequence s on s.seqrelid = pg_get_serial_sequence(format('%I.%I', $1::text, t), 'id')::regclass order by t`,
          [schema],
        )
      ).map((r) => r.cache);
    expect(await caches()).toEqual([1, 1]);
    // A common tuning of busy identity columns: each session takes a block of 20 ids.
    await db().exec(`alter table ${s}.audit_changes alter column id set cache 20;
      alter table ${s}.audit_transactions alter column id set cache 20`);
    await runWithAuditContext({ actor: ActorRef.user('u') }, () =>
      tl.transaction((tx) => tx.query(`insert into ${table} values (1)`)),
    );
    const refused = await tl.integrity.seal().catch((e: unknown) => e);
    expect(isThreadlineError(refused, 'CONFIG_INVALID')).toBe(true);
    expect((refused as Error).message).toMatch(
      /integrity\.seal: .*audit_changes_id_seq caches 20 ids per session .*ALTER SEQUENCE .*audit_changes_id_seq CACHE 1;/,
    );
    const findings = (await tl.health.findings()).filter((f) => f.code === 'audit_sequence_cache');
    expect(findings.map((f) => [f.schema, f.table, f.severity])).toEqual([
      [schema, 'audit_changes', 'warning'],
      [schema, 'audit_transactions', 'warning'],
    ]);
    expect(findings[0]!.fix).toMatch(/^ALTER SEQUENCE .*audit_changes_id_seq CACHE 1;$/);
    expect(await tl.integrity.status()).toMatchObject({ lastSeal: null });
    await tl.install();
    expect(await caches()).toEqual([1, 1]);
    expect((await tl.health.findings()).filter((f) => f.code === 'audit_sequence_cache')).toEqual([]);
    expect((await tl.integrity.seal()).sealedRows).toBe(2);
  });
});
