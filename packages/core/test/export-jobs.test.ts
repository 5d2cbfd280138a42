import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import {
  ActorRef,
  type ExportStorage,
  isThreadlineError,
  LocalDirectoryStorage,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { collect } from './export-helpers.js';
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

describeEachDb('background exports: jobs, storage, download, expiry, abandoned runs', (db) => {
  let tl: Threadline;
  let dir: string;
  const owner = ActorRef.user('owner-1');

  beforeAll(async () => {
    await db().exec('create table items (id int primary key, name text)');
    tl = await installed(db());
    await tl.installTriggers({ tables: ['items'] });
    await runWithAuditContext({ actor: ActorRef.user('writer') }, async () => {
      for (let i = 0; i < 12; i++) await tl.query('insert into items values ($1, $2)', [i, `=item,${i}`]);
    });
    dir = mkdtempSync(join(tmpdir(), 'tl-export-'));
    tl.export.configure({ storage: new LocalDirectoryStorage(dir) });
  });

  it('enqueue runs in process, stores the file, and only the requester downloads it (recorded)', async () => {
    const job = await tl.export.enqueue({ table: 'items' }, { format: 'csv', requestedBy: owner });
    expect(job.status).toBe('pending');
    expect(job.requestedBy).toEqual(owner);
    await tl.export.jobs.idle();
    const done = (await tl.export.job(job.id))!;
    expect(done.status).toBe('completed');
    expect(done.rowCount).toBe(12);
    expect(done.fileRef).toBe(`${job.id}.csv`);
    expect(readdirSync(dir)).toEqual([`${job.id}.csv`]);
    expect(done.bytes).toBe(readFileSync(join(dir, done.fileRef!)).length);
    expect(Date.parse(done.expiresAt) - Date.parse(done.finishedAt!)).toBe(7 * 24 * 3600 * 1000);
    const { stream, job: got } = await tl.export.download(job.id, { actor: 'user:owner-1' });
    expect(got.id).toBe(job.id);
    const text = await collect(stream);
    expect(text.split('\r\n').length).toBe(12 + 2);
    // Inside a JSON cell a value is never at the start of the cell: the cell starts with {.
    expect(text).toContain('"{""id"": 0, ""name"": ""=item,0""}"');
    expect(await rejection(tl.export.download(job.id, { actor: ActorRef.user('someone-else') }))).toBe(
      `NOT_FOUND: export.download: no export job ${job.id} requested by user:someone-else`,
    );
    const recorded = await db().sql<{ verb: string; actor: string; comment: string }>(
      `select verb, actor_ref->>'id' as actor, comment from threadline.audit_actions where name = 'threadline.export' order by inserted_at, id`,
    );
    expect(
      recorded.map((r) => [
        r.verb,
        r.actor,
        JSON.parse(r.comment).row_count,
        JSON.parse(r.comment).export_job_id,
      ]),
    ).toEqual([
      ['export', 'owner-1', 12, job.id],
      ['download', 'owner-1', 12, job.id],
    ]);
  });

  it('bad input: job ids, formats, anonymous requesters, unknown filters', async () => {
    expect(await rejection(tl.export.download('not-a-uuid', { actor: owner }))).toBe(
      'QUERY_INVALID: export.download: job id must be a UUID like 0b9f6c1e-4f0a-4c52-9a51-2f1f2a9d8e11, got "not-a-uuid"',
    );
    expect(
      await rejection(tl.export.download('00000000-0000-4000-8000-000000000000', { actor: owner })),
    ).toBe(
      'NOT_FOUND: export.download: no export job 00000000-0000-4000-8000-000000000000 requested by user:owner-1',
    );
    expect(await rejection(tl.export.enqueue({}, { format: 'xml' as never, requestedBy: owner }))).toBe(
      'QUERY_INVALID: export.enqueue: format must be "csv", "json" or "ndjson", got "xml"',
    );
    expect(await rejection(tl.export.enqueue({}, { format: 'csv', requestedBy: ActorRef.anonymous() }))).toBe(
      'INVALID_ACTOR: export.enqueue: requestedBy must identify someone (not anonymous): only they can download the file',
    );
    expect(
      await rejection(tl.export.enqueue({ nope: 1 } as never, { format: 'csv', requestedBy: owner })),
    ).toBe(await rejection(tl.timeline({ nope: 1 } as never)));
    const count = await db().sql<{ n: number }>('select count(*)::int as n from threadline.export_jobs');
    expect(count[0]!.n).toBe(1);
  });

  it('a storage failure fails the job with its code and leaves no file', async () => {
    const broken: ExportStorage = {
      async put(stream: Readable) {
        stream.destroy();
        throw new Error('disk full');
      },
      get: () => Promise.reject(new Error('unused')),
      delete: async () => undefined,
    };
    tl.export.configure({ storage: broken });
    try {
      const job = await tl.export.enqueue({}, { format: 'ndjson', requestedBy: owner });
      await tl.export.jobs.idle();
      const failed = (await tl.export.job(job.id))!;
      expect(failed.status).toBe('failed');
      expect(failed.error).toBe('UNKNOWN: unexpected error');
      expect(await rejection(tl.export.download(job.id, { actor: owner }))).toBe(
        `EXPORT_NOT_READY: export.download: export job ${job.id} failed (UNKNOWN: unexpected error); run the export again`,
      );
    } finally {
      tl.export.configure({ storage: new LocalDirectoryStorage(dir) });
    }
  });

  it('a job left running by a dead process is failed by cleanup; expired jobs lose their files', async () => {
    // A runner that never runs: the process "died" after claiming the job.
    tl.export.configure({ runner: { run: () => undefined } });
    const job = await tl.export.enqueue({}, { format: 'json', requestedBy: owner });
    await db().sql(
      `update threadline.export_jobs set status = 'running', started_at = now() - interval '1 hour', heartbeat_at = now() - interval '1 hour' where id = $1`,
      [job.id],
    );
    const fresh = await tl.export.enqueue({}, { format: 'json', requestedBy: owner });
    await db().sql(
      `update threadline.export_jobs set status = 'running', heartbeat_at = now() where id = $1`,
      [fresh.id],
    );
    const first = await tl.export.cleanup();
    expect(first.abandoned).toBe(1);
    const dead = (await tl.export.job(job.id))!;
    expect(dead.status).toBe('failed');
    expect(dead.error).toMatch(
      /^ABANDONED: the process running this export stopped \(no progress since \d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z\); run the export again$/,
    );
    expect((await tl.export.job(fresh.id))!.status).toBe('running');

    // Expiry: the completed job of the first test, moved into the past.
    const [completed] = await db().sql<{ id: string; file_ref: string }>(
      `select id::text, file_ref from threadline.export_jobs where status = 'completed'`,
    );
    await db().sql(
      `update threadline.export_jobs set expires_at = now() - interval '1 second' where id = $1`,
      [completed!.id],
    );
    expect(await rejection(tl.export.download(completed!.id, { actor: owner }))).toMatch(
      new RegExp(
        `^EXPORT_EXPIRED: export.download: export job ${completed!.id} expired at .*; run the export again$`,
      ),
    );
    writeFileSync(join(dir, 'unrelated.txt'), 'kept');
    const second = await tl.export.cleanup();
    expect(second.expired).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['unrelated.txt']);
    const gone = (await tl.export.job(completed!.id))!;
    expect([gone.status, gone.fileRef]).toEqual(['expired', null]);
    expect(await rejection(tl.export.download(completed!.id, { actor: owner }))).toMatch(/^EXPORT_EXPIRED: /);
  });
});
