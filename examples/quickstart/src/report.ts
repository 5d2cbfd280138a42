import { formatTable } from '@threadline/cli';
import type { Threadline } from '@threadline/core';
import { APP_SCHEMA } from './schema.js';

interface TxRow {
  id: string;
  at: string;
  actor: string | null;
  correlation_id: string | null;
  request_id: string | null;
  action: string | null;
  changes: number;
}

interface ChangeRow {
  tx: string;
  op: string;
  table_name: string;
  table_pk: Record<string, unknown>;
  data_after: Record<string, unknown> | null;
  data_before: Record<string, unknown> | null;
  changed_fields: string[] | null;
  changed_from: Record<string, unknown> | null;
}

const show = (v: unknown) => (v === undefined ? '∅' : JSON.stringify(v));

/** A one-line field diff: `name: "Bob" → "Robert"` for updates, the new row for inserts, the old row for deletes. */
function describeChange(c: ChangeRow): string {
  if (c.op === 'update') {
    return (c.changed_fields ?? [])
      .map((f) => `${f}: ${show(c.changed_from?.[f])} → ${show(c.data_after?.[f])}`)
      .join(', ');
  }
  const row = c.op === 'insert' ? c.data_after : c.data_before;
  if (!row) return c.op === 'truncate' ? 'all rows' : '';
  return Object.entries(row)
    .map(([k, v]) => `${k}=${show(v)}`)
    .join(' ');
}

/** What was captured, as readable tables. */
export async function report(tl: Threadline): Promise<string> {
  const q = `"${tl.schema.replace(/"/g, '""')}"`;
  const txs = await tl.query<TxRow>(
    `select t.id::text as id, to_char(t.occurred_at, 'HH24:MI:SS.MS') as at,
            t.actor_ref->>'type' || coalesce(':' || (t.actor_ref->>'id'), '') as actor,
            t.correlation_id, t.request_id, a.name as action,
            (select count(*)::int from ${q}.audit_changes c where c.transaction_id = t.id) as changes
       from ${q}.audit_transactions t left join ${q}.audit_actions a on a.id = t.action_id
      order by t.id`,
  );
  const changes = await tl.query<ChangeRow>(
    `select transaction_id::text as tx, op, table_name, table_pk, data_after, data_before, changed_fields, changed_from
       from ${q}.audit_changes order by id`,
  );
  const out: string[] = [];
  out.push('Audit transactions');
  out.push(
    formatTable(
      txs.rows.map((t) => ({ ...t, actor: t.actor ?? '(none)', action: t.action ?? '' })),
      [
        { key: 'id', header: 'TX' },
        { key: 'at', header: 'AT (UTC)' },
        { key: 'actor', header: 'ACTOR' },
        { key: 'correlation_id', header: 'CORRELATION' },
        { key: 'request_id', header: 'REQUEST' },
        { key: 'action', header: 'ACTION' },
        { key: 'changes', header: 'CHANGES' },
      ],
    ),
  );
  out.push('');
  out.push('Changes');
  out.push(
    formatTable(
      changes.rows.map((c) => ({
        tx: c.tx,
        op: c.op,
        table: c.table_name,
        key: JSON.stringify(c.table_pk),
        diff: describeChange(c),
      })),
      [
        { key: 'tx', header: 'TX' },
        { key: 'op', header: 'OP' },
        { key: 'table', header: 'TABLE' },
        { key: 'key', header: 'KEY' },
        { key: 'diff', header: 'FIELDS (before → after)', maxWidth: 90 },
      ],
    ),
  );
  const coverage = (await tl.health.coverage({ schema: APP_SCHEMA })).schemas[0]!;
  out.push('');
  out.push(`Coverage (what \`threadline health coverage --schema ${APP_SCHEMA}\` prints)`);
  out.push(
    formatTable(
      [
        ...coverage.covered.map((table) => ({ table, status: 'covered', source: '' })),
        ...coverage.uncovered.map((table) => ({ table, status: 'uncovered', source: '' })),
        ...coverage.expectedUncovered.map((e) => ({ table: e.table, status: 'expected', source: e.source })),
      ],
      ['table', 'status', 'source'],
    ),
  );
  return out.join('\n');
}
