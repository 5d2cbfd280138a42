import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import { cleanContextId } from '../src/adapter.js';
import {
  ActorRef,
  type AuditChange,
  createThreadline,
  isThreadlineError,
  runWithAuditContext,
  type Threadline,
} from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

async function code(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'resolved';
}

function syncCode(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isThreadlineError(error)) return `${error.code}: ${error.message}`;
    throw error;
  }
  return 'returned';
}

const tick = () => new Promise((r) => setTimeout(r, 3));

describeEachDb('query correctness (issue 17)', (db) => {
  let tl: Threadline;
  const now = async () => {
    await tick();
    const [row] = await db().sql<{ t: string }>(
      `select to_char(clock_timestamp() at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as t`,
    );
    await tick();
    return row!.t;
  };

  beforeAll(async () => {
    tl = await installed(db());
  });

  it('returns numbers beyond 2^53 and high-precision numerics exactly, and finds the same row with them', async () => {
    const bc = uniqueName('bc');
    const nums = uniqueName('nums');
    await db().exec(`create table ${bc} (a bigint, b int, note text, primary key (a, b));
      create table ${nums} (id int primary key, v numeric, small numeric(5,2), f float8);`);
    await tl.installTriggers({ tables: [bc, nums] });
    await tl.query(`insert into ${bc} values (9007199254740993, 1, 'odd'), (9007199254740992, 1, 'even')`);
    await tl.query(`insert into ${nums} values (1, 12345678901234567.89, 1.50, 0.1)`);

    const odd = await tl.history(bc, { a: '9007199254740993', b: 1 });
    expect(odd.entries.map((e) => [e.tablePk, e.dataAfter?.note])).toEqual([
      [{ a: '9007199254740993', b: 1 }, 'odd'],
    ]);
    expect(odd.entries[0]!.dataAfter).toEqual({ a: '9007199254740993', b: 1, note: 'odd' });
    // The returned key finds the same row again; 2^53 itself is beyond the safe range: a string too.
    const again = await tl.history(bc, odd.entries[0]!.tablePk);
    expect(again.entries.map((e) => e.id)).toEqual(odd.entries.map((e) => e.id));
    const even = await tl.history(bc, { a: 9007199254740992n, b: 1 });
    expect(even.entries.map((e) => [e.tablePk, e.dataAfter?.note])).toEqual([
      [{ a: '9007199254740992', b: 1 }, 'even'],
    ]);
    // A JavaScript number that already lost its digits names no row.
    expect(await code(tl.history(bc, { a: Number('9007199254740993'), b: 1 }))).toMatch(
      /^QUERY_INVALID: history: the key value 9007199254740992 is beyond JavaScript's exact integers .*pass it as a string or a bigint/,
    );
    const [n] = (await tl.history(nums, 1)).entries;
    expect(n!.dataAfter).toEqual({ id: 1, v: '12345678901234567.89', small: 1.5, f: 0.1 });
    const asOf = await tl.asOf(bc, { a: '9007199254740993', b: 1 }, new Date());
    expect(asOf).toMatchObject({ status: 'found', row: { a: '9007199254740993', note: 'odd' } });
    const timeline = await tl.timeline({ table: bc });
    expect(timeline.entries.map((e) => e.tablePk.a).sort()).toEqual(['9007199254740992', '9007199254740993']);
    const bundle = await tl.auditTransaction(odd.entries[0]!.transactionId);
    expect(bundle?.changes.map((c) => c.change.tablePk.a).sort()).toEqual([
      '9007199254740992',
      '9007199254740993',
    ]);
  });

  it('pages an incident bundle instead of silently stopping, and says how many changes there are', async () => {
    const big = uniqueName('big');
    await db().exec(`create table ${big} (id int primary key)`);
    await tl.installTriggers({ tables: [big] });
    await tl.query(`insert into ${big} select generate_series(1, 250)`);
    const [{ tx } = { tx: '' }] = await db().sql<{ tx: string }>(
      `select transaction_id::text as tx from threadline.audit_changes where table_name = $1 limit 1`,
      [big],
    );
    const first = await tl.auditTransaction(tx, { changeLimit: 100 });
    expect(first).toMatchObject({ changeCount: 250, hasMoreChanges: true });
    expect(first!.changes).toHaveLength(100);
    const ids: number[] = first!.changes.map((c) => c.change.tablePk.id as number);
    let cursor = first!.changeCursor;
    while (cursor) {
      const next = await tl.auditTransaction(tx, { changeLimit: 100, changeCursor: cursor });
      expect(next!.changeCount).toBe(250);
      ids.push(...next!.changes.map((c) => c.change.tablePk.id as number));
      cursor = next!.changeCursor;
    }
    expect(ids).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    const whole = await tl.auditTransaction(tx);
    expect(whole).toMatchObject({ changeCount: 250, hasMoreChanges: false, changeCursor: null });
    expect(whole!.changes).toHaveLength(250);
    expect(await code(tl.auditTransaction(tx, { changeLimit: 10_001 }))).toMatch(
      /QUERY_INVALID: auditTransaction: changeLimit must be an integer from 1 to 10000/,
    );
    expect(await code(tl.auditTransaction('1', { changeCursor: first!.changeCursor }))).toMatch(
      /QUERY_INVALID: invalid cursor \(it belongs to a different query\)/,
    );
  });

  it("as-of counts a TRUNCATE of the row's partition as its deletion, and only of its partition", async () => {
    const pt = uniqueName('pt');
    // A NOT NULL domain column: the key was read as a record of the table type, its other columns
    // NULL, and the domain refused them ("domain … does not allow null values").
    await db().exec(`create domain ${pt}_nn as int not null`);
    await db().exec(`create table ${pt} (id int, region text, v text, n ${pt}_nn default 0, primary key (id, region)) partition by list (region);
      create table ${pt}_a partition of ${pt} for values in ('a');
      create table ${pt}_b partition of ${pt} for values in ('b');
      create table ${pt}_c partition of ${pt} for values in ('c');`);
    await tl.installTriggers({ tables: [pt] });
    await tl.query(`insert into ${pt} values (1, 'a', 'one'), (2, 'b', 'two'), (3, 'c', 'three')`);
    const before = await now();
    await tl.query(`truncate ${pt}_a`);
    await tl.query(`truncate ${pt}_c`);
    const after = await now();
    await db().exec(`drop table ${pt}_c`);
    const gone = await tl.asOf(pt, { id: 1, region: 'a' }, after);
    expect(gone).toMatchObject({
      status: 'deleted',
      lastRow: { id: 1, region: 'a', v: 'one' },
      change: { op: 'truncate', dataBefore: { partition: `public.${pt}_a` } },
    });
    expect(await tl.asOf(pt, { id: 1, region: 'a' }, before)).toMatchObject({ status: 'found' });
    expect(await tl.asOf(pt, { id: 2, region: 'b' }, after)).toMatchObject({
      status: 'found',
      row: { id: 2, region: 'b', v: 'two' },
    });
    // pt_c no longer exists: row 2 still routes to pt_b, so pt_c's TRUNCATE was not its
    // deletion; row 3 routes to no partition now, so the TRUNCATE is the conservative answer.
    expect(await tl.asOf(pt, { id: 3, region: 'c' }, after)).toMatchObject({
      status: 'deleted',
      change: { op: 'truncate' },
    });
  });

  it('refuses a key that the column type would cut or round instead of answering for another row', async () => {
    const vk = uniqueName('vk');
    const nk = uniqueName('nk');
    const tk = uniqueName('tk');
    await db().exec(`create table ${vk} (k varchar(3) primary key);
      create table ${nk} (k numeric(5,2) primary key);
      create table ${tk} (k timestamp(0) primary key);`);
    await tl.installTriggers({ tables: [vk, nk, tk] });
    await db().exec(`insert into ${vk} values ('abc'); insert into ${nk} values (1.01);
      insert into ${tk} values ('2026-01-01 00:00:01')`);
    expect(await code(tl.history(vk, 'abcdefgh'))).toMatch(
      /^QUERY_INVALID: .*key column k of public\.\w+ is character varying\(3\), and "abcdefgh" is not exactly a value of it/,
    );
    expect(await code(tl.history(nk, '1.009'))).toMatch(
      /numeric\(5,2\), and "1.009" is not exactly a value of it/,
    );
    expect(await code(tl.history(tk, '2026-01-01 00:00:00.6'))).toMatch(
      /timestamp\(0\) without time zone, and "2026-01-01 00:00:00.6" is not exactly a value of it/,
    );
    expect(await code(tl.asOf(vk, 'abcd', new Date()))).toMatch(/^QUERY_INVALID: .*not exactly a value/);
    expect((await tl.history(vk, 'abc')).entries).toHaveLength(1);
    expect((await tl.history(nk, '1.010')).entries).toHaveLength(1);
    expect((await tl.history(nk, 1.01)).entries).toHaveLength(1);
    expect((await tl.history(tk, '2026-01-01T00:00:01')).entries).toHaveLength(1);
  });

  it("flags redaction by what the capture function was generated with, not the caller's config or the value", async () => {
    const acct = uniqueName('acct');
    await db().exec(`create table ${acct} (id int primary key, secret text, note text)`);
    const configured = createThreadline({
      db: db().db,
      tables: { [acct]: { mask: ['secret'], maskPlaceholder: '***' } },
    });
    await configured.installTriggers({ tables: [acct] });
    await tl.query(`insert into ${acct} values (1, 's3cret', '[REDACTED]')`);
    await tl.query(`update ${acct} set secret = 'other', note = 'n2' where id = 1`);
    // A reader with no table options at all (the CLI in another directory).
    const reader = createThreadline({ db: db().db });
    const [upd, ins] = (await reader.history(acct, 1)).entries;
    expect(reader.changeDiff(ins!).fields).toEqual([
      { field: 'id', after: 1 },
      { field: 'note', after: '[REDACTED]' },
      { field: 'secret', after: '***', redacted: true },
    ]);
    expect(reader.changeDiff(upd!).fields).toEqual([
      { field: 'note', before: '[REDACTED]', after: 'n2' },
      { field: 'secret', before: '***', after: '***', redacted: true },
    ]);
    const bundle = await reader.auditTransaction(ins!.transactionId);
    expect(bundle?.changes[0]?.diff.fields.find((f) => f.field === 'secret')).toEqual({
      field: 'secret',
      after: '***',
      redacted: true,
    });
    // A caller whose config claims a mask the database never applied flags nothing.
    const wrongConfig = createThreadline({ db: db().db, tables: { [acct]: { mask: ['note'] } } });
    const [, ins2] = (await wrongConfig.history(acct, 1)).entries;
    expect(wrongConfig.changeDiff(ins2!).fields.find((f) => f.field === 'note')).toEqual({
      field: 'note',
      after: '[REDACTED]',
    });
  });

  it('applies one rule for ids on both sides: whatever the database would drop, the JavaScript checks refuse first', async () => {
    const candidates = [
      '\u0000',
      '\u0007',
      '\u001f',
      '\u007f',
      '\u0080',
      '\u0085',
      '\u009b',
      '\u009f',
      '\u00ad',
      '\u061c',
      '\u200b',
      '\u200d',
      '\u200e',
      '\u200f',
      '\u2028',
      '\u2029',
      '\u202e',
      '\u2066',
      '\u2060',
      '\ufeff',
    ];
    for (const ch of candidates) {
      const value = `a${ch}b`;
      expect(
        syncCode(() => ActorRef.user(value)),
        JSON.stringify(value),
      ).toMatch(
        /^INVALID_ACTOR: ActorRef.user\(id\): id must be .* no control, format or invisible character/,
      );
      expect(cleanContextId(value), JSON.stringify(value)).toBeUndefined();
      if (ch === '\u0000') continue; // PostgreSQL text cannot hold NUL at all
      const [row] = await db().sql<{ clean: string | null }>(
        'select threadline.clean_context_id(to_jsonb($1::text)) as clean',
        [value],
      );
      // The database may accept some of these (its [[:cntrl:]] depends on the locale); JS refuses all.
      expect([null, value]).toContain(row!.clean);
    }
    expect(syncCode(() => ActorRef.user('a\u0085b'))).toMatch(/^INVALID_ACTOR/);
    expect(syncCode(() => runWithAuditContext({ correlationId: 'c\u009bx' }, () => 1))).toMatch(
      /^INVALID_CONTEXT: audit context: correlationId must be .* no control, format or invisible character/,
    );
    // Plain non-ASCII ids are fine.
    expect(ActorRef.user('José 山田')).toEqual({ type: 'user', id: 'José 山田' });
  });

  it('finds writes with no actor (actor: null), and the whole effect of one request or job', async () => {
    const w = uniqueName('w');
    await db().exec(`create table ${w} (id int primary key, n int)`);
    await tl.installTriggers({ tables: [w] });
    await tl.query(`insert into ${w} values (1, 0)`); // no context at all
    await runWithAuditContext({ actor: ActorRef.anonymous(), requestId: 'req-1' }, async () => {
      await tl.query(`insert into ${w} values (2, 0)`);
      await tl.query(`update ${w} set n = 1 where id = 2`); // a second transaction of the request
    });
    await runWithAuditContext({ requestId: 'req-1' }, () => tl.query(`insert into ${w} values (3, 0)`));
    await runWithAuditContext({ actor: ActorRef.job('mail'), jobId: 'job-9' }, async () => {
      await tl.query(`update ${w} set n = 2 where id = 1`);
      await tl.query(`update ${w} set n = 3 where id = 1`);
    });
    const keys = (entries: AuditChange[]) => entries.map((e) => [e.op, e.tablePk.id]);
    const none = await tl.timeline({ table: w, actor: null });
    expect(keys(none.entries)).toEqual([
      ['insert', 3],
      ['insert', 1],
    ]);
    expect(none.entries.every((e) => e.actor === null)).toBe(true);
    expect(keys((await tl.timeline({ table: w, actor: 'anonymous' })).entries)).toEqual([
      ['update', 2],
      ['insert', 2],
    ]);
    expect(keys((await tl.timeline({ requestId: 'req-1' })).entries)).toEqual([
      ['insert', 3],
      ['update', 2],
      ['insert', 2],
    ]);
    expect(keys((await tl.timeline({ requestId: 'req-1', actor: null })).entries)).toEqual([['insert', 3]]);
    expect(keys((await tl.timeline({ jobId: ' job-9 ' })).entries)).toEqual([
      ['update', 1],
      ['update', 1],
    ]);
    // Cursors walk these filters too.
    const p1 = await tl.timeline({ requestId: 'req-1' }, { pageSize: 2 });
    const p2 = await tl.timeline({ requestId: 'req-1' }, { pageSize: 2, cursor: p1.cursor });
    expect([...keys(p1.entries), ...keys(p2.entries)]).toEqual([
      ['insert', 3],
      ['update', 2],
      ['insert', 2],
    ]);
    expect(p2).toMatchObject({ hasMore: false, cursor: null });
    expect(await code(tl.timeline({ requestId: 'req-1' }, { cursor: p1.cursor }))).toBe('resolved');
    expect(await code(tl.timeline({ jobId: 'job-9' }, { cursor: p1.cursor }))).toMatch(/different query/);
    expect(await code(tl.timeline({ requestId: '  ' }))).toMatch(
      /QUERY_INVALID: timeline: requestId must be/,
    );
    const txs = await tl.auditTransactions({ requestId: 'req-1' });
    expect(txs.entries.map((t) => [t.requestId, t.actor])).toEqual([
      ['req-1', { type: 'anonymous' }],
      ['req-1', { type: 'anonymous' }],
      ['req-1', null],
    ]);
    const page1 = await tl.auditTransactions({ jobId: 'job-9' }, { pageSize: 1 });
    const page2 = await tl.auditTransactions({ jobId: 'job-9' }, { pageSize: 1, cursor: page1.cursor });
    expect([...page1.entries, ...page2.entries].map((t) => t.jobId)).toEqual(['job-9', 'job-9']);
    expect(page1.entries[0]!.id).not.toBe(page2.entries[0]!.id);
    expect(await code(tl.auditTransactions({}))).toMatch(/give exactly one of requestId, jobId/);
  });

  it('refuses bad dates, impossible cursors, transaction 0, anonymous:x and conflicting table filters as usage errors', async () => {
    for (const bad of [
      '2026-02-29',
      '2026-02-30',
      '0000-01-01',
      '2026-01-01T00:00:00+16:00',
      '2026-04-31T10:00Z',
    ]) {
      expect(await code(tl.timeline({ from: bad })), bad).toMatch(
        /^QUERY_INVALID: timeline: from is not a valid timestamp/,
      );
    }
    expect(await code(tl.asOf('x', 1, '2026-02-29T00:00:00Z'))).toMatch(
      /^QUERY_INVALID: asOf: at is not a valid/,
    );
    expect((await tl.timeline({ to: '2024-02-29' })).entries).toEqual([]);
    // Inverted bounds less than a millisecond apart.
    expect(
      await code(tl.timeline({ from: '2026-01-01T00:00:00.000600Z', to: '2026-01-01T00:00:00.000500Z' })),
    ).toMatch(/^QUERY_INVALID: timeline: from \(2026-01-01T00:00:00.000600Z\) is after to/);
    const page = await tl.timeline({}, { pageSize: 1 });
    const data = JSON.parse(Buffer.from(page.cursor!, 'base64url').toString('utf8'));
    const edited = (patch: { t?: string; i?: string }) =>
      Buffer.from(JSON.stringify({ ...data, ...patch }), 'utf8').toString('base64url');
    for (const patch of [
      { t: '2026-02-30T00:00:00Z' },
      { t: '2026-13-01T00:00:00Z' },
      { i: '9999999999999999999' },
    ]) {
      expect(
        await code(tl.timeline({}, { pageSize: 1, cursor: edited(patch) })),
        JSON.stringify(patch),
      ).toMatch(/^QUERY_INVALID: invalid cursor \(malformed\)/);
    }
    expect(await code(tl.auditTransaction('0'))).toMatch(
      /^QUERY_INVALID: auditTransaction: id must be a positive integer/,
    );
    expect(await code(tl.auditTransaction(0))).toMatch(/^QUERY_INVALID/);
    expect(await code(tl.timeline({ actor: 'anonymous:x' }))).toMatch(
      /^QUERY_INVALID: timeline: actor ActorRef.of: an anonymous actor has no id/,
    );
    expect(syncCode(() => ActorRef.fromString('anonymous:x'))).toMatch(/^INVALID_ACTOR/);
    expect(await code(tl.timeline({ table: 'many', tableSchema: 'other' }))).toMatch(
      /^QUERY_INVALID: timeline: table "many" is many but tableSchema is other; name the table with its schema \(other\.many\)/,
    );
    expect(await code(tl.timeline({ table: 'other.many', tableSchema: 'other' }))).toBe('resolved');
  });

  it('diffs row data that is not an object without crashing', () => {
    const base: AuditChange = {
      id: '1',
      transactionId: '1',
      tableSchema: 'public',
      tableName: 'hand_written',
      tablePk: 'oops' as never,
      tablePkBefore: null,
      op: 'insert',
      dataAfter: 'just text' as never,
      dataBefore: null,
      changedFields: null,
      changedFrom: null,
      capturedAt: '2026-01-01T00:00:00.000000Z',
      actor: null,
      correlationId: null,
    };
    expect(tl.changeDiff(base)).toEqual({
      op: 'insert',
      beforeKnown: true,
      fields: [{ field: '(row)', after: 'just text' }],
    });
    expect(tl.changeDiff({ ...base, op: 'delete', dataAfter: null, dataBefore: [1, 2] as never })).toEqual({
      op: 'delete',
      beforeKnown: true,
      fields: [{ field: '(row)', before: [1, 2] }],
    });
    expect(
      tl.changeDiff({ ...base, op: 'update', dataAfter: 42 as never, changedFields: 'x' as never }),
    ).toEqual({ op: 'update', beforeKnown: false, fields: [{ field: '(row)', after: 42 }] });
  });
});
