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
        threadline_context_error: { correlationId: 'must be a non-empty string of at most 256 bytes' },
      });
    }
  });

  it('a number is held to the same 256-byte bound as a string', async () => {
    const row = await captureWith('{"correlationId": 42.5e999, "requestId": 12345}');
    expect(row.correlation_id).toBeNull();
    expect(row.request_id).toBe('12345');
    expect(row.meta).toEqual({
      threadline_context_error: { correlationId: 'must be a non-empty string of at most 256 bytes' },
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
          unstorable: 'left out (a \\u0000 escape, which jsonb cannot store): ["meta"]',
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
        unstorable: 'left out (a \\u0000 escape, which jsonb cannot store): ["correlationId"]',
      },
    });
  });
});
