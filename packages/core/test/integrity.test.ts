import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { type DbHandle, describeEachDb } from '@threadline/test-utils';
import { expect, it, vi } from 'vitest';
import {
  ActorRef,
  createThreadline,
  isThreadlineError,
  runWithAuditContext,
  TELEMETRY_CHANNELS,
  type Threadline,
} from '../src/index.js';
import { uniqueName } from './helpers.js';

/**
 * The tables an install fills (its configuration and the registry); every other table of the
 * storage schema holds what capture, seals, verifications and retention wrote.
 */
const INSTALL_STATE = [
  'schema_version',
  'storage_settings',
  'captured_tables',
  'audit_table_names',
  'internal_nonce',
  'activity_state',
];
const installedSchemas = new Map<string, string>();

/**
 * A storage schema as a fresh install leaves it. Installing one per test cost most of this file's
 * time (about 6 s a test on PGlite at load 10), so each database kind installs one schema once and
 * every later test empties it first: all captured, sealed, verified and purged rows go, identities
 * restart, the install's own configuration stays.
 */
async function freshSchema(db: DbHandle): Promise<string> {
  const schema = installedSchemas.get(db.kind);
  if (!schema) {
    const created = uniqueName('seal');
    await createThreadline({ db: db.db, schema: created }).install();
    installedSchemas.set(db.kind, created);
    return created;
  }
  const written = await db.sql<{ name: string }>(
    `select format('%I.%I', n.nspname, c.relname) as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = $1 and c.relkind in ('r', 'p') and not c.relispartition and c.relname <> all($2::text[])`,
    [schema, INSTALL_STATE],
  );
  expect(written.map((r) => r.name)).toContain(`${schema}.integrity_seals`);
  await db.exec(`truncate ${written.map((r) => r.name).join(', ')} restart identity`);
  return schema;
}

/** A fresh storage schema with one audited table and `n` captured inserts (one transaction each). */
async function setup(db: DbHandle, n: number, retention = false) {
  const schema = await freshSchema(db);
  const table = uniqueName('posts');
  await db.exec(`create table ${table} (id int primary key, title text)`);
  const tl = createThreadline({
    db: db.db,
    schema,
    ...(retention ? { retention: { enabled: true, keepDays: 30, sleepMs: 0 } } : {}),
  });
  await tl.installTriggers({ tables: [table] });
  await write(tl, table, 1, n);
  return { tl, schema, table, s: `"${schema}"` };
}

async function write(tl: Threadline, table: string, first: number, n: number) {
  for (let i = first; i < first + n; i++) {
    await runWithAuditContext({ actor: ActorRef.user('u1') }, () =>
      tl.transaction((tx) => tx.query(`insert into ${table} values ($1, $2)`, [i, `title ${i}`])),
    );
  }
}

const kinds = (r: { findings: { kind: string }[] }) => r.findings.map((f) => f.kind);

describeEachDb('integrity: seal and verify', (db) => {
  it('seals every committed row in chained links and verifies clean', async () => {
    const { tl } = await setup(db(), 12);
    const sealed = await tl.integrity.seal({ chunkSize: 100 });
    expect(sealed.pending).toBeNull();
    expect(sealed.sealedRows).toBe(24);
    expect(sealed.links.map((l) => l.relation)).toEqual(['audit_transactions', 'audit_changes']);
    expect(sealed.headHash).toMatch(/^[0-9a-f]{64}$/);
    const again = await tl.integrity.seal();
    expect(again.links).toEqual([]);
    const result = await tl.integrity.verify();
    expect(result).toMatchObject({ ok: true, sealsChecked: 2, rowsChecked: 24, findings: [] });
    expect(result.unsealed).toEqual({ audit_changes: 0, audit_transactions: 0 });
    const status = await tl.integrity.status();
    expect(status.lastSeal?.hash).toBe(sealed.headHash);
    expect(status.lastVerification).toMatchObject({ status: 'ok', findings: 0, rowsChecked: 24 });
  });

  it('small chunks make several links, each following the previous one', async () => {
    const { tl, table } = await setup(db(), 0);
    // 250 transactions (500 rows to seal) sent as one script: link boundaries depend only on how
    // many rows there are, and one round trip each cost this test most of its time.
    await db().exec(
      Array.from(
        { length: 250 },
        (_, i) => `begin; insert into ${table} values (${i + 1}, 't'); commit;`,
      ).join('\n'),
    );
    const sealed = await tl.integrity.seal({ chunkSize: 100 });
    expect(sealed.links.length).toBe(6);
    expect((await tl.integrity.verify()).ok).toBe(true);
  });

  it('names an altered value, a removed row and an inserted row (by id and table/pk)', async () => {
    const { tl, s, table } = await setup(db(), 10);
    // A rolled-back capture leaves a hole in the ids, inside the range sealed next.
    await runWithAuditContext({ actor: ActorRef.user('u1') }, () =>
      tl.transaction(async (tx) => {
        await tx.query(`insert into ${table} values (500, 'rolled back')`);
        throw new Error('rollback');
      }),
    ).catch(() => undefined);
    await write(tl, table, 11, 2);
    await tl.integrity.seal();
    const ids = (
      await db().sql<{ id: string }>(`select c.id::text as id from ${s}.audit_changes c order by c.id`)
    ).map((r) => r.id);
    const hole = String(Number(ids[9]) + 1);
    expect(ids).not.toContain(hole);
    await db().exec(
      `update ${s}.audit_changes set data_after = jsonb_set(data_after, '{title}', '"forged"') where id = ${ids[2]}`,
    );
    await db().exec(`delete from ${s}.audit_changes where id = ${ids[5]}`);
    await db().exec(`insert into ${s}.audit_changes (id, transaction_id, table_schema, table_name, table_pk, op, data_after, captured_at)
      overriding system value select ${hole}, transaction_id, table_schema, table_name, '{"id": 999}', 'insert', '{"id": 999}', captured_at
      from ${s}.audit_changes where id = ${ids[0]}`);
    const result = await tl.integrity.verify();
    expect(result.ok).toBe(false);
    expect(result.counts).toMatchObject({ altered: 1, removed: 1, inserted: 1, purged: 0 });
    const byKind = Object.fromEntries(result.findings.map((f) => [f.kind, f]));
    expect(byKind.altered).toMatchObject({
      id: ids[2],
      relation: 'audit_changes',
      table: `public.${table}`,
      pk: { id: 3 },
    });
    expect(byKind.removed).toMatchObject({ id: ids[5], table: `public.${table}`, pk: { id: 6 } });
    expect(byKind.inserted).toMatchObject({ id: hole, pk: { id: 999 } });
    const status = await tl.integrity.status();
    expect(status.lastVerification).toMatchObject({ status: 'failed', findings: 3 });
  });

  it('a reorder (two rows swapping captured_at) names both rows', async () => {
    const { tl, s } = await setup(db(), 5);
    await tl.integrity.seal();
    const [a, b] = await db().sql<{ id: string; at: string }>(
      `select id::text, captured_at::text as at from ${s}.audit_changes order by id limit 2`,
    );
    await db().exec(`update ${s}.audit_changes set captured_at = case id when ${a!.id} then '${b!.at}'::timestamptz else '${a!.at}'::timestamptz end,
      transaction_id = transaction_id where id in (${a!.id}, ${b!.id})`);
    // Same instant for both rows would be no change at all: move one a microsecond off too.
    await db().exec(
      `update ${s}.audit_changes set captured_at = captured_at + interval '1 microsecond' where id = ${a!.id}`,
    );
    const result = await tl.integrity.verify();
    expect(result.findings.filter((f) => f.kind === 'altered').map((f) => f.id)).toEqual([a!.id, b!.id]);
  });

  it('a transaction row or its action altered is named', async () => {
    const { tl, s } = await setup(db(), 3);
    await tl.integrity.seal();
    await db().exec(
      `update ${s}.audit_transactions set actor_ref = '{"type":"user","id":"someone-else"}' where id = (select min(id) from ${s}.audit_transactions)`,
    );
    const result = await tl.integrity.verify();
    expect(result.findings).toEqual([
      expect.objectContaining({ kind: 'altered', relation: 'audit_transactions' }),
    ]);
  });

  it('a truncated audit table names every sealed row as removed', async () => {
    const { tl, s } = await setup(db(), 7);
    await tl.integrity.seal();
    await db().exec(`truncate ${s}.audit_changes`);
    const result = await tl.integrity.verify({ maxFindings: 3 });
    expect(result.counts.removed).toBe(7);
    expect(result.findings.length).toBe(3);
    expect(result.findingsTruncated).toBe(true);
  });

  it('a seal row altered or removed breaks the chain', async () => {
    const { tl, s, table } = await setup(db(), 3);
    await tl.integrity.seal();
    await write(tl, table, 100, 2);
    await tl.integrity.seal();
    await write(tl, table, 200, 2);
    await tl.integrity.seal();
    const links = await db().sql<{ id: string }>(`select id::text from ${s}.integrity_seals order by id`);
    expect(links.length).toBe(6);
    await db().exec(`update ${s}.integrity_seals set row_count = row_count + 1 where id = ${links[1]!.id}`);
    let result = await tl.integrity.verify();
    expect(kinds(result)).toEqual(['seal_altered']);
    expect(result.findings[0]!.id).toBe(links[1]!.id);
    await db().exec(`update ${s}.integrity_seals set row_count = row_count - 1 where id = ${links[1]!.id}`);
    expect((await tl.integrity.verify()).ok).toBe(true);
    await db().exec(`delete from ${s}.integrity_seals where id = ${links[2]!.id}`);
    result = await tl.integrity.verify();
    expect(kinds(result).sort()).toEqual(['chain_broken', 'seal_removed']);
    // The newest seals removed: the last verification saw a longer chain.
    await db().exec(`delete from ${s}.integrity_seals where id >= ${links[4]!.id}`);
    result = await tl.integrity.verify();
    expect(result.findings.some((f) => f.kind === 'seal_removed' && f.id === links[5]!.id)).toBe(true);
  });

  it('removing the newest seal, altering a row and sealing again is caught (the head a verification saw is gone)', async () => {
    const { tl, s, table } = await setup(db(), 3);
    await tl.integrity.seal();
    await write(tl, table, 100, 2);
    await tl.integrity.seal();
    expect((await tl.integrity.verify()).ok).toBe(true);
    const [head] = await db().sql<{ id: string }>(`select max(id)::text as id from ${s}.integrity_seals`);
    await db().exec(`delete from ${s}.integrity_seals where id = ${head!.id};
      update ${s}.audit_changes set data_after = '{"title":"forged"}' where id = (select max(id) from ${s}.audit_changes)`);
    await tl.integrity.seal();
    for (let i = 0; i < 2; i++) {
      const result = await tl.integrity.verify();
      expect(result.ok).toBe(false);
      expect(result.findings).toContainEqual(
        expect.objectContaining({
          kind: 'seal_removed',
          id: head!.id,
          message: expect.stringMatching(/is gone and the chain was extended past it/),
        }),
      );
    }
  });

  it('verify refuses a window whose from is after its to', async () => {
    const { tl } = await setup(db(), 1);
    await expect(tl.integrity.verify({ from: '2030-01-01', to: '2020-01-01' })).rejects.toThrow(
      /from \(.*\) is after to/,
    );
  });

  it('rows removed by retention are reported as purged by that run, other removals still as removed', async () => {
    const { tl, s, table } = await setup(db(), 6, true);
    // The first four are old enough for retention (aged before sealing: that is their real history).
    await db().exec(
      `update ${s}.audit_changes set captured_at = captured_at - interval '40 days' where id in (select id from ${s}.audit_changes order by id limit 4)`,
    );
    await db().exec(
      `update ${s}.audit_transactions set occurred_at = occurred_at - interval '40 days' where id in (select id from ${s}.audit_transactions order by id limit 4)`,
    );
    await tl.integrity.seal();
    const run = await tl.retention.purge();
    expect(run.deletedChanges).toBe(4);
    let result = await tl.integrity.verify();
    expect(result.ok).toBe(true);
    expect(result.counts).toMatchObject({ purged: 8, removed: 0 });
    expect(result.findings.every((f) => f.retentionRunId === run.runId)).toBe(true);
    await db().exec(`delete from ${s}.audit_changes where id = (select max(id) from ${s}.audit_changes)`);
    result = await tl.integrity.verify();
    expect(result.ok).toBe(false);
    expect(result.counts.removed).toBe(1);
    // Sealing goes on after a purge; the purge link sits in the chain.
    await write(tl, table, 50, 1);
    expect((await tl.integrity.seal()).sealedRows).toBe(2);
  });

  it('verify --from/--to checks only links holding rows of the window', async () => {
    const { tl } = await setup(db(), 3);
    await tl.integrity.seal();
    const future = await tl.integrity.verify({ from: '2999-01-01T00:00:00Z' });
    expect(future).toMatchObject({ ok: true, sealsChecked: 0 });
    expect(
      await tl.integrity.verify({ from: 'yesterday' }).catch((e) => isThreadlineError(e, 'QUERY_INVALID')),
    ).toBe(true);
    expect(
      await tl.integrity.seal({ chunkSize: 5 }).catch((e) => isThreadlineError(e, 'QUERY_INVALID')),
    ).toBe(true);
  });

  it('publishes seal and verify start/end with counts only (no row values, no actor ids)', async () => {
    const { tl, s } = await setup(db(), 2);
    await db().exec(
      `update ${s}.audit_transactions set actor_ref = '{"type":"user","id":"secret-actor-id"}'`,
    );
    const names = [
      TELEMETRY_CHANNELS.sealStart,
      TELEMETRY_CHANNELS.sealEnd,
      TELEMETRY_CHANNELS.verifyStart,
      TELEMETRY_CHANNELS.verifyEnd,
      TELEMETRY_CHANNELS.verifyError,
    ];
    const seen: [string, unknown][] = [];
    const fns = names.map((name) => {
      const fn = (m: unknown) => seen.push([name, m]);
      subscribe(name, fn);
      return [name, fn] as const;
    });
    try {
      await tl.integrity.seal();
      await db().exec(`update ${s}.audit_changes set data_after = '{"title": "secret-value"}'`);
      await tl.integrity.verify();
      await tl.integrity.verify({ from: 'nope' }).catch(() => undefined);
    } finally {
      for (const [name, fn] of fns) unsubscribe(name, fn);
    }
    expect(seen.map(([n]) => n)).toEqual([
      ...names.slice(0, 4),
      TELEMETRY_CHANNELS.verifyStart,
      TELEMETRY_CHANNELS.verifyError,
    ]);
    expect(seen[1]![1]).toMatchObject({ links: 2, sealedRows: 4, pending: false });
    expect(seen[3]![1]).toMatchObject({ ok: false, counts: { altered: 2 } });
    expect(seen[5]![1]).toMatchObject({ code: 'QUERY_INVALID' });
    expect(JSON.stringify(seen)).not.toMatch(/secret-actor-id|secret-value/);
  });

  it('tl.integrity.schedule seals every interval, one seal at a time, and stops', async () => {
    const { tl } = await setup(db(), 2);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const results: unknown[] = [];
    let schedule: ReturnType<Threadline['integrity']['schedule']>;
    try {
      expect(() => tl.integrity.schedule({ every: '10s' })).toThrow(
        /integrity.schedule: every must be from one minute/,
      );
      schedule = tl.integrity.schedule({ every: '1m', onRun: (r, e) => results.push(e ?? r) });
      vi.advanceTimersByTime(60_000);
      vi.advanceTimersByTime(60_000); // the first seal is still running: skipped, not queued
    } finally {
      vi.useRealTimers();
    }
    await schedule.stop();
    expect(results).toEqual([expect.objectContaining({ sealedRows: 4 })]);
  });
});
