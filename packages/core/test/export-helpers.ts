import type { DbHandle } from '@threadline/test-utils';

/** Every change as the database holds it, newest first, read independently of the export code. */
export async function groundTruth(db: DbHandle): Promise<Record<string, string | null>[]> {
  return db.sql(`
    select c.id::text as id, c.transaction_id::text as transaction_id, c.table_schema::text as table_schema,
      c.table_name::text as table_name, c.op,
      to_char(c.captured_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as captured_at,
      c.table_pk::text as table_pk, c.data_after::text as data_after, c.data_before::text as data_before,
      array_to_json(c.changed_fields)::text as changed_fields, c.changed_from::text as changed_from,
      t.actor_ref->>'type' as actor_type, t.actor_ref->>'id' as actor_id, t.correlation_id, t.request_id,
      t.job_id, t.source, a.name as action_name
    from threadline.audit_changes c
    join threadline.audit_transactions t on t.id = c.transaction_id
    left join threadline.audit_actions a on a.id = t.action_id
    order by c.captured_at desc, c.id desc`);
}

export const JSON_FIELDS = ['table_pk', 'data_after', 'data_before', 'changed_fields', 'changed_from'];

export async function collect(stream: AsyncIterable<unknown>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
