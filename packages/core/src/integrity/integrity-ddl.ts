/**
 * Tamper-evidence storage (SPEC section 13). `@S` is the quoted storage schema, `@LIT` its literal.
 *
 * - integrity_rows(relation, from, to, version): THE canonical serialization of audit rows. Every
 *   seal and every verification hashes rows through this one function, so a storage-layout change
 *   (new columns, a table registry id instead of schema/table text, partitions) adapts here only.
 *   Versioned: a link records the version it sealed with (integrity_seals.digest_version) and is
 *   verified with it, so links sealed before a version was added keep verifying. Version 1 (links
 *   written before it existed, and by an older library during a rolling deploy: the column's
 *   default, the three-argument form) covers a change's schema, table name and key text; version
 *   2 also covers its table_id and key_hash, by which every query finds it (editing them would
 *   hide a change from history and as-of). Storage maintain's key backfill sets those two on
 *   legacy rows (NULL before): version-1 links do not cover them, and a seal never covers a
 *   change whose table_id is still NULL with version 2 (it stops before it: seal.ts).
 *   A row's digest is the first 16 bytes of sha256 over a jsonb array of its semantic fields
 *   (jsonb renders canonically; timestamps as UTC text with microseconds, independent of the
 *   session's TimeZone and DateStyle). An audit transaction's digest includes every action
 *   linked to it (by audit_transactions.action_id or audit_actions.transaction_id).
 *   `label` is what verify names a removed row by: [schema, table, pk, captured_at] for changes,
 *   [occurred_at] for transactions.
 * - integrity_seals: the hash chain. `range` links seal one relation's ids (from, to] with their
 *   packed digests (8-byte id + 16-byte digest per row, id order) and labels; `purge` links are
 *   appended by retention before it deletes anything (its run id and cutoff), so rows it removes
 *   are accepted by verify. hash = sha256(integrity_link_text(link)), which includes prev_hash.
 * - integrity_watermarks: sequence positions, and the transaction id assigned right after reading
 *   them (xid_bound, the recording transaction's own). Capture allocates an id only after its
 *   transaction has an xid, so every id up to a watermark belongs to a transaction whose xid is
 *   below xid_bound; the ids are final once no transaction below xid_bound is still running.
 *   (A snapshot's xip list is not enough: an xid assigned after the newest completed one is above
 *   the snapshot's xmax and in no list, though it is running.) `snap` is no longer read.
 * - integrity_verifications: the outcome of each verify (for the operator surface and auditors).
 * No grants: only the role that installed Threadline (or one it grants) seals and verifies.
 */
export const INTEGRITY_DDL = `
CREATE TABLE IF NOT EXISTS @S.integrity_seals (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  kind text NOT NULL CHECK (kind IN ('range', 'purge')),
  relation text CHECK (relation IN ('audit_changes', 'audit_transactions')),
  range_from bigint,
  range_to bigint,
  row_count bigint NOT NULL DEFAULT 0,
  rows_hash bytea,
  labels_hash bytea,
  digests bytea,
  labels text,
  min_at timestamptz,
  max_at timestamptz,
  retention_run_id bigint,
  cutoff timestamptz,
  sealed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  prev_hash bytea,
  hash bytea NOT NULL
);
ALTER TABLE @S.integrity_seals ADD COLUMN IF NOT EXISTS digest_version smallint NOT NULL DEFAULT 1;
CREATE INDEX IF NOT EXISTS integrity_seals_relation_idx ON @S.integrity_seals (relation, range_to) WHERE kind = 'range';

CREATE TABLE IF NOT EXISTS @S.integrity_watermarks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  taken_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  changes_last bigint NOT NULL,
  transactions_last bigint NOT NULL,
  snap pg_snapshot NOT NULL
);
-- The default is the inserting transaction's own xid: correct for a watermark written by an older
-- version of the library during a rolling deploy (it inserts after reading the sequences), and,
-- for rows already there when the column is added, the upgrading transaction's xid: larger than
-- any xid running when they were taken, so they settle only once those transactions ended.
ALTER TABLE @S.integrity_watermarks ADD COLUMN IF NOT EXISTS xid_bound xid8 NOT NULL DEFAULT pg_current_xact_id();

CREATE TABLE IF NOT EXISTS @S.integrity_verifications (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  finished_at timestamptz,
  status text NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'error')),
  range_from timestamptz,
  range_to timestamptz,
  seals_checked integer NOT NULL DEFAULT 0,
  rows_checked bigint NOT NULL DEFAULT 0,
  findings integer NOT NULL DEFAULT 0,
  summary jsonb,
  head_seal_id bigint,
  error text
);

-- Seal and verify read audit_changes by id ranges; the primary key leads with captured_at. A BRIN
-- index on id is a few pages, costs capture next to nothing (ids grow with the heap), and turns
-- a range read into a scan of the matching pages only.
DO $do$
BEGIN
  IF to_regclass(format('%I.audit_changes_id_brin', @LIT)) IS NULL THEN
    CREATE INDEX audit_changes_id_brin ON @S.audit_changes USING brin (id) WITH (pages_per_range = 32);
  END IF;
END
$do$;

-- Transactions in progress now that may write audit rows here: the snapshot's in-progress list
-- less those whose holder provably cannot: a backend connected to another database of the cluster
-- (the list is cluster-wide), a prepared transaction of another database, or an autovacuum worker
-- (its ANALYZE holds an xid for as long as it runs and never captures). Unknown holders count.
CREATE OR REPLACE FUNCTION @S.integrity_running_xids() RETURNS SETOF xid8
LANGUAGE sql STABLE AS $f$
  WITH here AS (SELECT oid FROM pg_database WHERE datname = current_database()),
  elsewhere AS (
    SELECT l.transactionid::text AS x32 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
     WHERE l.locktype = 'transactionid' AND l.mode = 'ExclusiveLock'
       AND (a.datid <> (SELECT oid FROM here) OR a.backend_type = 'autovacuum worker')
    UNION ALL
    SELECT p.transaction::text FROM pg_prepared_xacts p WHERE p.database <> current_database())
  SELECT x FROM pg_snapshot_xip(pg_current_snapshot()) x
   WHERE ((x::text::numeric % 4294967296)::text) NOT IN (SELECT x32 FROM elsewhere)
$f$;

CREATE OR REPLACE FUNCTION @S.integrity_time(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $f$
  SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$f$;

CREATE OR REPLACE FUNCTION @S.integrity_rows(rel text, lo bigint, hi bigint, ver integer)
RETURNS TABLE (id bigint, digest bytea, label text, at timestamptz)
LANGUAGE sql STABLE AS $f$
  SELECT c.id,
         substring(sha256(convert_to(CASE WHEN ver = 1 THEN jsonb_build_array(
           c.id, c.transaction_id, c.table_schema, c.table_name, c.table_pk, c.table_pk_before, c.op,
           c.data_after, c.data_before, c.changed_fields, c.changed_from, @S.integrity_time(c.captured_at))::text
         ELSE jsonb_build_array(
           c.id, c.transaction_id, c.table_schema, c.table_name, c.table_pk, c.table_pk_before, c.op,
           c.data_after, c.data_before, c.changed_fields, c.changed_from, @S.integrity_time(c.captured_at),
           c.table_id, c.key_hash)::text END, 'UTF8')) FROM 1 FOR 16),
         jsonb_build_array(c.table_schema, c.table_name, c.table_pk, @S.integrity_time(c.captured_at))::text,
         c.captured_at
    FROM @S.audit_changes c
   WHERE rel = 'audit_changes' AND c.id > lo AND c.id <= hi
  UNION ALL
  SELECT t.id,
         substring(sha256(convert_to(jsonb_build_array(
           t.id, t.txid, @S.integrity_time(t.occurred_at), t.actor_ref, t.correlation_id, t.request_id, t.job_id,
           t.causation_id, t.source, t.meta, t.action_id,
           (SELECT jsonb_agg(jsonb_build_array(a.id, a.name, a.actor_ref, a.status, a.verb, a.category, a.reason,
                     a.comment, a.correlation_id, a.request_id, a.job_id, a.transaction_id, @S.integrity_time(a.inserted_at))
                     ORDER BY a.id)
              FROM @S.audit_actions a WHERE a.transaction_id = t.id OR a.id = t.action_id))::text, 'UTF8')) FROM 1 FOR 16),
         jsonb_build_array(@S.integrity_time(t.occurred_at))::text,
         t.occurred_at
    FROM @S.audit_transactions t
   WHERE rel = 'audit_transactions' AND t.id > lo AND t.id <= hi
$f$;

-- Version 1, as every library before versions called it.
CREATE OR REPLACE FUNCTION @S.integrity_rows(rel text, lo bigint, hi bigint)
RETURNS TABLE (id bigint, digest bytea, label text, at timestamptz)
LANGUAGE sql STABLE AS $f$
  SELECT * FROM @S.integrity_rows(rel, lo, hi, 1)
$f$;

-- The id sequences hand out one id at a time (CACHE 1): a seal's watermark reads how far each
-- stands (pg_sequence_last_value), which with a cache is the end of one session's block, ids
-- below it still to be handed out later (seal refuses to run with a cache; health reports it).
DO $do$
DECLARE
  seq regclass;
BEGIN
  FOR seq IN SELECT pg_get_serial_sequence(format('%I.%I', @LIT, t), 'id')::regclass
               FROM unnest(ARRAY['audit_changes', 'audit_transactions']) t LOOP
    IF (SELECT s.seqcache FROM pg_sequence s WHERE s.seqrelid = seq) > 1 THEN
      EXECUTE format('ALTER SEQUENCE %s CACHE 1', seq);
    END IF;
  END LOOP;
END
$do$;

-- The text a chain link's hash is taken over: every field of the link and the previous link's hash.
-- A digest version above 1 is part of it (a link moved back to version 1 no longer hashes to its
-- hash); version-1 links hash as they always did.
CREATE OR REPLACE FUNCTION @S.integrity_link_text(s @S.integrity_seals) RETURNS text
LANGUAGE sql STABLE AS $f$
  SELECT (jsonb_build_array(s.id, s.kind, s.relation, s.range_from, s.range_to, s.row_count,
           encode(s.rows_hash, 'hex'), encode(s.labels_hash, 'hex'), @S.integrity_time(s.min_at), @S.integrity_time(s.max_at),
           s.retention_run_id, @S.integrity_time(s.cutoff), @S.integrity_time(s.sealed_at), encode(s.prev_hash, 'hex'))
         || CASE WHEN s.digest_version = 1 THEN '[]'::jsonb ELSE jsonb_build_array(s.digest_version) END)::text
$f$;
`;
