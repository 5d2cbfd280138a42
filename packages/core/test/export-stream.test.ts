import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import {
  createTestDatabase,
  describeEachDb,
  postgresEnabled,
  type TestDatabase,
} from '@threadline/test-utils';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ActorRef,
  createThreadline,
  EXPORT_COMPLETED_CHANNEL,
  EXPORT_FAILED_CHANNEL,
  type ExportTelemetry,
  isThreadlineError,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { collect } from './export-helpers.js';
import { installed } from './helpers.js';

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'no error';
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'resolved';
}

interface ActionRow {
  name: string;
  actor_ref: { type: string; id: string };
  status: string;
  verb: string;
  comment: string;
  correlation_id: string | null;
}

describeEachDb('export: filters, audit record, telemetry and bad input', (db) => {
  let tl: Threadline;
  const auditor = ActorRef.user('auditor-7');
  const actions = () =>
    db().sql<ActionRow>(
      `select name, actor_ref, status, verb, comment, correlation_id from threadline.audit_actions where name = 'threadline.export' order by inserted_at, id`,
    );

  beforeAll(async () => {
    await db().exec(
      'create table notes (id int primary key, body text); create table other (id int primary key)',
    );
    tl = await installed(db());
    await tl.installTriggers({ tables: ['notes', 'other'] });
    await runWithAuditContext({ actor: ActorRef.user('alice'), correlationId: 'c-1' }, async () => {
      for (let i = 0; i < 30; i++) await tl.query('insert into notes values ($1, $2)', [i, `n${i}`]);
    });
    await runWithAuditContext({ actor: ActorRef.user('bob') }, () =>
      tl.query('insert into other values (1)'),
    );
  });

  it('filters are the timeline filters: same rows, same order, for each filter', async () => {
    for (const filters of [
      {},
      { table: 'notes' },
      { actor: 'user:bob' },
      { actor: ActorRef.user('alice'), correlationId: 'c-1' },
      { tableSchema: 'public', table: 'other' },
    ]) {
      const page = await tl.timeline(filters, { pageSize: 1000 });
      const text = await collect(
        tl.export.stream(filters, { format: 'ndjson', pageSize: 7, actor: auditor }),
      );
      const ids =
        text === ''
          ? []
          : text
              .trim()
              .split('\n')
              .map((l) => (JSON.parse(l) as { id: string }).id);
      expect(ids, JSON.stringify(filters)).toEqual(page.entries.map((e) => e.id));
      expect(await tl.export.count(filters), JSON.stringify(filters)).toEqual({
        count: page.entries.length,
        capped: false,
      });
    }
  });

  it('count stops at the cap and says so', async () => {
    expect(await tl.export.count({}, { cap: 5 })).toEqual({ count: 5, capped: true });
    expect(await tl.export.count({}, { cap: 31 })).toEqual({ count: 31, capped: false });
    expect(await tl.export.count({}, { cap: null })).toEqual({ count: 31, capped: false });
    expect(await tl.export.count({ actor: 'user:alice' }, { cap: 29 })).toEqual({ count: 29, capped: true });
  });

  it('every export is recorded as threadline.export by the actor who asked, with filters and row count', async () => {
    const before = (await actions()).length;
    await runWithAuditContext({ actor: ActorRef.admin('root'), correlationId: 'exp-corr' }, async () => {
      await tl.export.toBuffer({ table: 'notes' }, { format: 'csv', maxRows: 4 });
    });
    await collect(tl.export.stream({ actor: 'user:bob' }, { format: 'json', actor: auditor }));
    const recorded = (await actions()).slice(before);
    expect(recorded.map((a) => [a.actor_ref, a.status, a.verb, a.correlation_id])).toEqual([
      [{ type: 'admin', id: 'root' }, 'ok', 'export', 'exp-corr'],
      [{ type: 'user', id: 'auditor-7' }, 'ok', 'export', null],
    ]);
    expect(JSON.parse(recorded[0]!.comment)).toEqual({
      format: 'csv',
      filters: { table: 'notes' },
      row_count: 4,
      truncated: true,
    });
    expect(JSON.parse(recorded[1]!.comment)).toEqual({
      format: 'json',
      filters: { actor: 'user:bob' },
      row_count: 1,
      truncated: false,
    });
  });

  it('telemetry: completed and failed events carry sizes and codes, never values or ids', async () => {
    const events: [string, ExportTelemetry][] = [];
    const onCompleted = (m: unknown) => events.push(['completed', m as ExportTelemetry]);
    const onFailed = (m: unknown) => events.push(['failed', m as ExportTelemetry]);
    subscribe(EXPORT_COMPLETED_CHANNEL, onCompleted);
    subscribe(EXPORT_FAILED_CHANNEL, onFailed);
    try {
      await collect(tl.export.stream({ table: 'notes' }, { format: 'ndjson', actor: auditor }));
      const stream = tl.export.stream({ table: 'notes' }, { format: 'csv', pageSize: 2, actor: auditor });
      for await (const _ of stream) break;
    } finally {
      unsubscribe(EXPORT_COMPLETED_CHANNEL, onCompleted);
      unsubscribe(EXPORT_FAILED_CHANNEL, onFailed);
    }
    expect(events.map(([name, e]) => [name, Object.keys(e).sort()])).toEqual([
      ['completed', ['bytes', 'durationMs', 'format', 'kind', 'rowCount', 'truncated']],
      ['failed', ['bytes', 'durationMs', 'errorCode', 'format', 'kind', 'rowCount', 'truncated']],
    ]);
    expect(events[0]![1]).toMatchObject({ format: 'ndjson', kind: 'stream', rowCount: 30, truncated: false });
    expect(events[1]![1]).toMatchObject({ format: 'csv', kind: 'stream', errorCode: 'EXPORT_ABORTED' });
    expect(JSON.stringify(events)).not.toMatch(/auditor|alice|c-1/);
  });

  it('bad input: the timeline validator errors, word for word, and export options', async () => {
    const timelineError = await rejection(tl.timeline({ tabel: 'x' } as never));
    expect(failure(() => tl.export.stream({ tabel: 'x' } as never, { format: 'csv', actor: auditor }))).toBe(
      timelineError,
    );
    expect(await rejection(tl.export.count({ tabel: 'x' } as never))).toBe(timelineError);
    expect(failure(() => tl.export.stream({ from: 42 } as never, { format: 'csv', actor: auditor }))).toBe(
      await rejection(tl.timeline({ from: 42 } as never)),
    );
    expect(failure(() => tl.export.stream({}, { format: 'xml' as never, actor: auditor }))).toBe(
      'QUERY_INVALID: export: format must be "csv", "json" or "ndjson", got "xml"',
    );
    expect(failure(() => tl.export.stream({}, { format: 'csv', pageSize: 0, actor: auditor }))).toBe(
      'QUERY_INVALID: export: pageSize must be an integer from 1 to 10000, got 0',
    );
    expect(await rejection(tl.export.toBuffer({}, { format: 'csv', maxRows: 0, actor: auditor }))).toBe(
      'QUERY_INVALID: export.toBuffer: maxRows must be an integer from 1 to 9007199254740991, got 0',
    );
    expect(failure(() => tl.export.stream({}, { format: 'csv' }))).toBe(
      'INVALID_ACTOR: export: no actor to record the export for; pass { actor: ActorRef.user(id) } or run inside an audit context that has one',
    );
    expect(await rejection(tl.export.count({}, { cap: -1 }))).toBe(
      'QUERY_INVALID: export.count: cap must be an integer from 1 to 9007199254740991, got -1',
    );
  });
});

describe.skipIf(!postgresEnabled())('export stream on a pool of one connection [postgres]', () => {
  let server: TestDatabase;
  let pool: pg.Pool;
  let tl: Threadline;

  beforeAll(async () => {
    server = await createTestDatabase('tl_export');
    pool = new pg.Pool({ connectionString: server.url, max: 1 });
    tl = createThreadline({ db: pool });
    await tl.install();
    await pool.query('create table bulk (id int primary key, body text)');
    await tl.installTriggers({ tables: ['bulk'] });
    await pool.query(`insert into bulk select g, repeat('x', 200) from generate_series(1, 3000) g`);
  });

  afterAll(async () => {
    await pool?.end();
    await server?.drop();
  });

  it('a consumer that stops mid-stream releases the connection; the export is recorded as stopped', async () => {
    const stream = tl.export.stream({}, { format: 'ndjson', pageSize: 100, actor: ActorRef.user('leaver') });
    let received = 0;
    for await (const chunk of stream) {
      received += (chunk as Buffer).length;
      break; // the client disconnected
    }
    expect(stream.destroyed).toBe(true);
    expect(received).toBeGreaterThan(0);
    // The single connection is free again: no cursor, no open transaction, nothing running.
    const page = await tl.timeline({}, { pageSize: 1 });
    expect(page.entries.length).toBe(1);
    const { rows } = await pool.query(
      `select state, backend_xid is not null as xid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'`,
    );
    expect(rows).toEqual([]);
    expect(pool.totalCount).toBe(1);
    expect(pool.idleCount).toBe(1);
    // Recorded (once the stop is reported) with the rows that left the database.
    let action: { status: string; comment: string } | undefined;
    for (let i = 0; i < 100 && !action; i++) {
      [action] = (
        await pool.query(
          `select status, comment from threadline.audit_actions where actor_ref->>'id' = 'leaver'`,
        )
      ).rows;
      if (!action) await new Promise((r) => setTimeout(r, 20));
    }
    expect(action?.status).toBe('error');
    const rowCount = (JSON.parse(action!.comment) as { row_count: number }).row_count;
    expect(rowCount).toBe(stream.stats.rowCount);
    expect(rowCount).toBeLessThan(3000);
  });

  it('30 concurrent exports on a pool of one connection: each complete, each recorded', async () => {
    const truth = (
      await pool.query(
        `select c.id::text as id from threadline.audit_changes c order by c.captured_at desc, c.id desc`,
      )
    ).rows.map((r) => r.id);
    const results = await Promise.all(
      Array.from({ length: 30 }, (_, i) =>
        tl.export.toBuffer(
          {},
          { format: i % 2 ? 'ndjson' : 'csv', maxRows: 100 + i, actor: ActorRef.user(`c-${i}`) },
        ),
      ),
    );
    for (const [i, r] of results.entries()) {
      expect(r.returnedCount).toBe(100 + i);
      const ids = r.data
        .toString()
        .trim()
        .split(i % 2 ? '\n' : '\r\n')
        .slice(i % 2 ? 0 : 1)
        .map((line) => (i % 2 ? (JSON.parse(line) as { id: string }).id : line.split(',')[0]));
      expect(ids).toEqual(truth.slice(0, 100 + i));
    }
    const { rows } = await pool.query(
      `select actor_ref->>'id' as id, (comment::jsonb->>'row_count')::int as n from threadline.audit_actions where actor_ref->>'id' like 'c-%' order by 1`,
    );
    expect(rows.length).toBe(30);
    for (const row of rows) expect(row.n).toBe(100 + Number(row.id.slice(2)));
  });

  it('backpressure: an unread stream stops paging after about one page', async () => {
    const stream = tl.export.stream({}, { format: 'ndjson', pageSize: 100, actor: ActorRef.user('slow') });
    await new Promise((resolve) => stream.once('readable', resolve));
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
    expect(stream.stats.rowCount).toBeLessThanOrEqual(200);
    const text = await collect(stream);
    expect(stream.stats.rowCount).toBe(3000);
    expect(text.length).toBeGreaterThan(0);
  });
});

describe.skipIf(!postgresEnabled())('export by COPY on a pool of two connections [postgres]', () => {
  let server: TestDatabase;
  let pool: pg.Pool;
  let tl: Threadline;
  const running = async () =>
    (
      await server.pool.query(
        `select query from pg_stat_activity where datname = current_database() and state <> 'idle' and query like 'COPY%'`,
      )
    ).rows;

  beforeAll(async () => {
    server = await createTestDatabase('tl_export_copy');
    pool = new pg.Pool({ connectionString: server.url, max: 2 });
    tl = createThreadline({ db: pool });
    await tl.install();
    await pool.query('create table bulk (id int primary key, body text)');
    await tl.installTriggers({ tables: ['bulk'] });
    await pool.query(`insert into bulk select g, repeat('x', 500) from generate_series(1, 20000) g`);
  });

  afterAll(async () => {
    await pool?.end();
    await server?.drop();
  });

  it('a consumer that stops mid-COPY: the connection is closed, the server stops the COPY, the stop is recorded', async () => {
    const stream = tl.export.stream({}, { format: 'csv', actor: ActorRef.user('copy-leaver') });
    let received = 0;
    for await (const chunk of stream) {
      received += (chunk as Buffer).length;
      if (received > 200_000) break; // mid-COPY: rows are flowing
    }
    expect(stream.stats.rowCount).toBeGreaterThan(0);
    expect(stream.destroyed).toBe(true);
    let left = await running();
    for (let i = 0; i < 100 && left.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      left = await running();
    }
    expect(left).toEqual([]);
    let status: string | undefined;
    for (let i = 0; i < 100 && !status; i++) {
      status = (
        await pool.query(`select status from threadline.audit_actions where actor_ref->>'id' = 'copy-leaver'`)
      ).rows[0]?.status;
      if (!status) await new Promise((r) => setTimeout(r, 20));
    }
    expect(status).toBe('error');
    expect(pool.totalCount - pool.idleCount).toBe(0); // nothing held; the COPY connection was dropped
    expect(stream.stats.rowCount).toBeLessThan(20000);
    // The pool still works, with both connections.
    const all = await Promise.all([tl.export.count({}, { cap: null }), tl.timeline({})]);
    expect(all[0].count).toBe(20000);
  });

  it('backpressure: an unread COPY stream stops reading; reading on gets every row', async () => {
    const stream = tl.export.stream({}, { format: 'ndjson', actor: ActorRef.user('copy-slow') });
    await new Promise((resolve) => stream.once('readable', resolve));
    for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5));
    expect(stream.stats.rowCount).toBeLessThan(20000);
    const text = await collect(stream);
    expect(stream.stats.rowCount).toBe(20000);
    expect(text.split('\n').length).toBe(20001);
  });

  it('4 concurrent COPY exports and a background job on two connections: each complete, none stuck', async () => {
    const results = await Promise.all([
      ...Array.from({ length: 4 }, (_, i) =>
        tl.export.toBuffer(
          {},
          { format: i % 2 ? 'json' : 'csv', maxRows: 20000, actor: ActorRef.user(`cc-${i}`) },
        ),
      ),
    ]);
    for (const r of results) expect([r.returnedCount, r.truncated]).toEqual([20000, false]);
    const job = await tl.export.enqueue({}, { format: 'ndjson', requestedBy: ActorRef.user('cc-job') });
    let done = await tl.export.job(job.id);
    for (let i = 0; i < 500 && done?.status !== 'completed' && done?.status !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 20));
      done = await tl.export.job(job.id);
    }
    expect([done?.status, done?.rowCount]).toEqual(['completed', 20000]);
  });
});
