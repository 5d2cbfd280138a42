import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ActorRef,
  type ArchiveBatch,
  createThreadline,
  isThreadlineError,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { resolveRetentionPolicy } from '../src/retention/policy.js';
import { uniqueName } from './helpers.js';

function configError(policy: unknown): string {
  try {
    resolveRetentionPolicy(policy);
  } catch (error) {
    if (isThreadlineError(error, 'CONFIG_INVALID')) return error.message;
    throw error;
  }
  return 'no error';
}

describe('retention.archive validation', () => {
  it.each([
    [
      { dir: '/tmp/a', compress: true },
      /retention\.archive: unknown key "compress"; the known keys are dir, format/,
    ],
    [{ dir: 42 }, /retention\.archive\.dir must be a directory path \(a non-empty string\), got 42/],
    [{ dir: '' }, /retention\.archive\.dir must be a directory path/],
    [{}, /retention\.archive\.dir must be a directory path/],
    [{ dir: '/tmp/a', format: 'csv' }, /retention\.archive\.format must be 'ndjson'/],
    [true, /retention\.archive must be \{ dir: '.\/audit-archive' \} or an async function/],
  ])('refuses archive %j', (archive, message) => {
    expect(configError({ enabled: true, keepDays: 30, archive })).toMatch(message);
  });

  it('accepts a directory or a callback', () => {
    expect(resolveRetentionPolicy({ enabled: true, keepDays: 1, archive: { dir: 'x' } }).archive).toEqual({
      kind: 'dir',
      dir: 'x',
      format: 'ndjson',
    });
    const write = async () => {};
    expect(resolveRetentionPolicy({ enabled: true, keepDays: 1, archive: write }).archive).toEqual({
      kind: 'callback',
      write,
    });
  });
});

describeEachDb('retention archive before purge', (db) => {
  let table: string;

  /** Ground truth of every change, read straight from the tables (not through the export module). */
  async function truth(): Promise<Map<string, Record<string, unknown>>> {
    const rows = await db().sql<Record<string, unknown>>(
      `select c.id::text as id, c.transaction_id::text as transaction_id, c.table_schema, c.table_name, c.op,
              c.table_pk, c.data_after, c.data_before, c.changed_fields, c.changed_from,
              t.actor_ref->>'type' as actor_type, t.actor_ref->>'id' as actor_id, t.correlation_id, a.name as action_name
         from threadline.audit_changes c join threadline.audit_transactions t on t.id = c.transaction_id
         left join threadline.audit_actions a on a.id = t.action_id`,
    );
    return new Map(rows.map((r) => [r.id as string, r]));
  }

  async function writeOld(n: number, first: number): Promise<void> {
    const txs: string[] = [];
    for (let i = 0; i < n; i++) {
      const { auditTransactionId } = await runWithAuditContext(
        { actor: ActorRef.user(`u${i}`), correlationId: `corr-${first + i}` },
        () =>
          plain.transaction(async (tx) => {
            await tx.query(`insert into ${table} values ($1, $2, $3)`, [
              first + i,
              `=cmd "q", line\nnext ☃ 🎉 ${i}`,
              '12345678901234567.25',
            ]);
            if (i % 2 === 0)
              await tx.query(`update ${table} set note = note || '!' where id = $1`, [first + i]);
            if (i === 0) await plain.recordAction('bulk.import');
          }),
      );
      txs.push(auditTransactionId!);
    }
    await db().sql(
      `update threadline.audit_changes set captured_at = captured_at - interval '40 days' where transaction_id = any($1::bigint[])`,
      [txs],
    );
    await db().sql(
      `update threadline.audit_transactions set occurred_at = occurred_at - interval '40 days' where id = any($1::bigint[])`,
      [txs],
    );
  }

  let plain: Threadline;
  const withArchive = (archive: unknown) =>
    createThreadline({
      db: db().db,
      retention: { enabled: true, keepDays: 30, sleepMs: 0, archive: archive as never },
    });

  beforeAll(async () => {
    table = uniqueName('arch');
    await db().exec(`create table ${table} (id int primary key, note text, amount numeric)`);
    plain = createThreadline({ db: db().db });
    await plain.install();
    await plain.installTriggers({ tables: [table] });
  });

  it('an unwritable archive deletes nothing and the run is failed', async () => {
    await writeOld(3, 100);
    const before = await truth();
    const file = join(mkdtempSync(join(tmpdir(), 'tl-arch-')), 'not-a-dir');
    writeFileSync(file, 'x');
    const tl = withArchive({ dir: join(file, 'sub') });
    const error = await tl.retention.purge({ batchSize: 2 }).catch((e: unknown) => e);
    expect(isThreadlineError(error, 'RETENTION_ARCHIVE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(
      /part 1 of run #\d+ \(2 changes\) could not be archived: .*nothing in this batch was deleted; make ".*sub" writable/,
    );
    expect([...(await truth()).keys()].sort()).toEqual([...before.keys()].sort());
    const [run] = await tl.retention.runs({ limit: 1 });
    expect(run).toMatchObject({ status: 'failed', deletedChanges: 0 });
    expect(run!.error).toMatch(/could not be archived/);
  });

  it('a failing callback deletes nothing', async () => {
    const before = await truth();
    const tl = withArchive(async () => {
      throw new Error('bucket unavailable');
    });
    const error = await tl.retention.purge().catch((e: unknown) => e);
    expect(isThreadlineError(error, 'RETENTION_ARCHIVE_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(/bucket unavailable.*fix the retention\.archive callback/);
    expect((await truth()).size).toBe(before.size);
  });

  it('a dry run writes no file', async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'tl-arch-')), 'out');
    const result = await withArchive({ dir }).retention.purge({ dryRun: true });
    expect(result.deletedChanges).toBeGreaterThan(0);
    expect(result.archive).toBeNull();
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
  });

  it('the archive holds exactly the deleted rows, with their context, verified by manifest', async () => {
    await writeOld(4, 200);
    const before = await truth();
    const dir = join(mkdtempSync(join(tmpdir(), 'tl-arch-')), 'out');
    const tl = withArchive({ dir });
    const result = await tl.retention.purge({ batchSize: 3 });
    const after = await truth();
    const deleted = [...before.keys()].filter((id) => !after.has(id));
    expect(deleted.length).toBe(result.deletedChanges);
    expect(result.deletedChanges).toBeGreaterThanOrEqual(10);

    const files = readdirSync(dir).sort();
    const parts = files.filter((f) => f.endsWith('.ndjson.gz'));
    expect(parts.length).toBe(Math.ceil(result.deletedChanges / 3));
    expect(files.filter((f) => f.endsWith('.manifest.json'))).toHaveLength(parts.length);
    expect(result.archive).toEqual({
      target: dir,
      parts: parts.length,
      rows: deleted.length,
      firstFile: parts[0],
      lastFile: parts.at(-1),
    });
    const records: Record<string, unknown>[] = [];
    for (const part of parts) {
      const gz = readFileSync(join(dir, part));
      const lines = gunzipSync(gz)
        .toString('utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l));
      const manifest = JSON.parse(readFileSync(join(dir, `${part}.manifest.json`), 'utf8'));
      expect(manifest).toMatchObject({
        format_version: 1,
        file: part,
        run_id: result.runId,
        cutoff: result.cutoff,
        row_count: lines.length,
        sha256: createHash('sha256').update(gz).digest('hex'),
      });
      records.push(...lines);
    }
    expect(records.map((r) => r.id).sort()).toEqual(deleted.sort());
    for (const record of records) {
      const row = before.get(record.id as string)!;
      for (const [key, value] of Object.entries(row)) expect([key, record[key]]).toEqual([key, value]);
      expect(Date.parse(record.captured_at as string)).toBeLessThan(Date.parse(result.cutoff));
    }
    expect(records.some((r) => r.action_name === 'bulk.import')).toBe(true);
    expect(records.some((r) => r.op === 'update' || r.op === 'UPDATE')).toBe(true);
    const [run] = await tl.retention.runs({ limit: 1 });
    expect(run).toMatchObject({ status: 'completed', archive: result.archive });
  });

  it('a callback receives every batch before it is deleted', async () => {
    await writeOld(2, 300);
    const before = await truth();
    const batches: ArchiveBatch[] = [];
    const tl = withArchive(async (batch: ArchiveBatch) => {
      // The rows are still there while the callback runs (same transaction, not yet deleted).
      batches.push(batch);
    });
    const result = await tl.retention.purge({ batchSize: 2 });
    const after = await truth();
    const ids = batches.flatMap((b) => b.records.map((r) => JSON.parse(r).id as string));
    expect(ids.sort()).toEqual([...before.keys()].filter((id) => !after.has(id)).sort());
    expect(result.archive).toMatchObject({ target: 'callback', parts: batches.length, rows: ids.length });
    expect(batches.map((b) => b.part)).toEqual(batches.map((_, i) => i + 1));
  });

  it('does not drop a partition unarchived: the archiving batches take its rows', async () => {
    await writeOld(2, 400);
    await db().sql(
      `update threadline.audit_changes set captured_at = captured_at - interval '40 days' where (table_pk->>'id')::int >= 400`,
    );
    await plain.storage.maintain(); // gives the 80-day-old rows a month partition of their own
    const partitions = async () =>
      (await plain.storage.status()).partitions.filter((p) => !p.isDefault).map((p) => p.name);
    const had = await partitions();
    const before = await truth();
    const batches: ArchiveBatch[] = [];
    const result = await withArchive(async (b: ArchiveBatch) => void batches.push(b)).retention.purge();
    expect(result.droppedPartitions).toBe(0);
    const after = await truth();
    const ids = batches.flatMap((b) => b.records.map((r) => JSON.parse(r).id as string));
    expect(ids).toHaveLength(result.deletedChanges);
    expect(ids.sort()).toEqual([...before.keys()].filter((id) => !after.has(id)).sort());
    expect(ids.length).toBeGreaterThanOrEqual(3);
    expect(await partitions()).toEqual(had);
  });
});
