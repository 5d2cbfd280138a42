/**
 * The anchor: the common design of other audit libraries (research/capture-bench.md's V1), so
 * capture can be compared with what a team would otherwise install. One AFTER ROW trigger per
 * table that, for every row: upserts the transaction row (INSERT ... ON CONFLICT (txid) DO
 * NOTHING, then reads its id back), builds the key from the key columns named in TG_ARGV,
 * diffs to_jsonb(NEW) against to_jsonb(OLD) with jsonb_each, and inserts the change row. Its
 * storage is the usual one: uuid ids, a foreign key from changes to transactions, indexes on the
 * transaction, the row (table, key) and the time. It reads the context Threadline's binding sets.
 */

export const ANCHOR_SQL = String.raw`
CREATE SCHEMA anchor;
CREATE TABLE anchor.transactions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  txid bigint NOT NULL UNIQUE,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_ref jsonb,
  correlation_id text
) WITH (autovacuum_enabled = off);
CREATE TABLE anchor.changes (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  transaction_id uuid NOT NULL REFERENCES anchor.transactions (id),
  table_schema text NOT NULL,
  table_name text NOT NULL,
  table_pk jsonb NOT NULL,
  op text NOT NULL,
  data_after jsonb,
  data_before jsonb,
  changed_fields text[],
  changed_from jsonb,
  captured_at timestamptz NOT NULL DEFAULT clock_timestamp()
) WITH (autovacuum_enabled = off);
CREATE INDEX anchor_changes_tx_idx ON anchor.changes (transaction_id);
CREATE INDEX anchor_changes_row_idx ON anchor.changes (table_schema, table_name, table_pk);
CREATE INDEX anchor_changes_time_idx ON anchor.changes (captured_at);

CREATE FUNCTION anchor.capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE
  tx uuid;
  n jsonb;
  o jsonb;
  pk jsonb;
  fields text[];
  old_values jsonb;
BEGIN
  INSERT INTO anchor.transactions (txid, actor_ref, correlation_id)
  VALUES (txid_current(), nullif(current_setting('threadline.actor_ref', true), '')::jsonb,
          nullif(current_setting('threadline.context', true), '')::jsonb ->> 'correlationId')
  ON CONFLICT (txid) DO NOTHING;
  SELECT t.id INTO tx FROM anchor.transactions t WHERE t.txid = txid_current();
  IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW); END IF;
  IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD); END IF;
  SELECT jsonb_object_agg(k, coalesce(n, o) -> k) INTO pk FROM unnest(TG_ARGV) AS k;
  IF TG_OP = 'UPDATE' THEN
    SELECT array_agg(a.key ORDER BY a.key), jsonb_object_agg(a.key, b.value) INTO fields, old_values
      FROM jsonb_each(n) a JOIN jsonb_each(o) b ON b.key = a.key
     WHERE a.value IS DISTINCT FROM b.value;
    IF fields IS NULL THEN RETURN NULL; END IF;
  END IF;
  INSERT INTO anchor.changes (transaction_id, table_schema, table_name, table_pk, op, data_after, data_before, changed_fields, changed_from)
  VALUES (tx, TG_TABLE_SCHEMA, TG_TABLE_NAME, pk, lower(TG_OP), n, CASE WHEN TG_OP = 'DELETE' THEN o END, fields, old_values);
  RETURN NULL;
END
$fn$;
`;

/** The anchor's trigger on `table` (schema-qualified, already quoted), keyed by `keyColumns`. */
export function anchorTriggerSql(table: string, keyColumns: string[]): string {
  const args = keyColumns.map((k) => `'${k.replaceAll("'", "''")}'`).join(', ');
  return `CREATE TRIGGER anchor_capture AFTER INSERT OR UPDATE OR DELETE ON ${table}
  FOR EACH ROW EXECUTE FUNCTION anchor.capture(${args})`;
}
