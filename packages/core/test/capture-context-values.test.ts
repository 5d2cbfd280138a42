import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

interface TxRow {
  actor_ref: unknown;
  correlation_id: string | null;
  request_id: string | null;
  meta: Record<string, unknown> | null;
}

/** Context values stay within their bounds, and one bad value never drops the good ones (issue 15, item 13). */
describeEachDb('context values bound at capture', (db) => {
  async function captureWith(context: string): Promise<TxRow> {
    const t = uniqueName('ctx');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    await db().exec(`begin;
      select set_config('threadline.actor_ref', '{"type":"user","id":"7"}', true),
             set_config('threadline.context', ${quote(context)}, true);
      insert into ${t} values (1);
      commit;`);
    const rows = await db().sql<TxRow>(
      `select t.actor_ref, t.correlation_id, t.request_id, t.meta from threadline.audit_changes c
         join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1`,
      [t],
    );
    expect(rows).toHaveLength(1);
    return rows[0]!;
  }

  function quote(text: string): string {
    return `'${text.replaceAll("'", "''")}'`;
  }

  it('the database refuses the same invisible characters in ids as the JavaScript side (one rule, issue 17 item 7)', async () => {
    for (const bad of ['c\u009bx', 'line\u2028sep', 'zero\u200bwidth', 'tag\u{e0020}x']) {
      const row = await captureWith(JSON.stringify({ correlationId: bad, requestId: 'ok' }));
      expect(row.correlation_id, JSON.stringify(bad)).toBeNull();
      expect(row.request_id).toBe('ok');
      expect(row.meta).toEqual({
        threadline_context_error: {
          correlationId:
            'must be a non-empty string of at most 256 bytes (spaces at either end are trimmed) with no control, format or invisible character and no space other than U+0020',
        },
      });
    }
  });

  it('a number is held to the same 256-byte bound as a string', async () => {
    const row = await captureWith('{"correlationId": 42.5e999, "requestId": 12345}');
    expect(row.correlation_id).toBeNull();
    expect(row.request_id).toBe('12345');
    expect(row.meta).toEqual({
      threadline_context_error: {
        correlationId:
          'must be a non-empty string of at most 256 bytes (spaces at either end are trimmed) with no control, format or invisible character and no space other than U+0020',
      },
    });
  });

  it('a NUL escape in meta drops only meta, not the valid correlation and request ids', async () => {
    const row = await captureWith(
      '{"correlationId": "corr-1", "requestId": "req-1", "meta": {"note": "a\\u0000b"}}',
    );
    expect(row).toEqual({
      actor_ref: { type: 'user', id: '7' },
      correlation_id: 'corr-1',
      request_id: 'req-1',
      meta: {
        threadline_context_error: {
          unstorable:
            'left out (jsonb cannot store a \\u0000 escape, a lone surrogate escape or a number beyond numeric\'s range): ["meta"]',
        },
      },
    });
  });

  it('a NUL escape in an id drops that id with a note and keeps the rest', async () => {
    const row = await captureWith('{"correlationId": "a\\u0000", "requestId": "req-2"}');
    expect(row.correlation_id).toBeNull();
    expect(row.request_id).toBe('req-2');
    expect(row.meta).toEqual({
      threadline_context_error: {
        unstorable:
          'left out (jsonb cannot store a \\u0000 escape, a lone surrogate escape or a number beyond numeric\'s range): ["correlationId"]',
      },
    });
  });

  const unstorable = (fields: string) =>
    `left out (jsonb cannot store a \\u0000 escape, a lone surrogate escape or a number beyond numeric's range): ${fields}`;

  it('a lone surrogate escape or a number beyond numeric drops only its field, named as unstorable', async () => {
    for (const meta of ['{"k": "\\ud800"}', '{"k": "x\\udc00"}', '{"n": 1e1000000}']) {
      const row = await captureWith(
        `{"correlationId": "keep-me", "requestId": "pair-\\ud83d\\ude00", "meta": ${meta}}`,
      );
      expect(row.correlation_id, meta).toBe('keep-me');
      expect(row.request_id, meta).toBe('pair-\u{1f600}'); // a valid surrogate pair is kept
      expect(row.meta, meta).toEqual({ threadline_context_error: { unstorable: unstorable('["meta"]') } });
    }
  });

  it('an actor id with a NUL escape is named as unstorable, not as invalid JSON; invalid JSON stays named so', async () => {
    const problem = async (actor: string) => {
      const t = uniqueName('actor');
      await db().exec(`create table ${t} (id int primary key)`);
      const tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
      await db().exec(`begin; select set_config('threadline.actor_ref', ${quote(actor)}, true);
        insert into ${t} values (1); commit;`);
      const [row] = await db().sql<TxRow>(
        `select t.actor_ref, t.meta from threadline.audit_changes c
           join threadline.audit_transactions t on t.id = c.transaction_id where c.table_name = $1`,
        [t],
      );
      expect(row!.actor_ref).toBeNull();
      return (row!.meta as { threadline_context_error: { actor_ref: string } }).threadline_context_error
        .actor_ref;
    };
    expect(await problem('{"type":"user","id":"a\\u0000"}')).toBe(
      "threadline.actor_ref holds a value jsonb cannot store (a \\u0000 escape, a lone surrogate escape or a number beyond numeric's range)",
    );
    expect(await problem('{"type":"user","id":')).toBe('threadline.actor_ref is not valid JSON');
  });

  it('context that is valid JSON but no object, or no JSON at all, is named for what it is', async () => {
    expect((await captureWith('[1, "\\u0000"]')).meta).toEqual({
      threadline_context_error: { context: 'threadline.context is not a JSON object' },
    });
    expect((await captureWith('{"meta": ')).meta).toEqual({
      threadline_context_error: { context: 'threadline.context is not valid JSON' },
    });
  });
});
