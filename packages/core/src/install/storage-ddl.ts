import { LEGACY_INDEXES } from '../storage/legacy-indexes.js';

/**
 * Storage tables and indexes. `@S` is replaced by the quoted storage schema.
 *
 * Index choices (each one exists for a query in the core API; every extra index on
 * audit_changes costs time on every captured row, so there are exactly these):
 * - audit_changes PRIMARY KEY (captured_at, id): the timeline order (`captured_at desc, id desc`)
 *   for unfiltered pages and time windows, and retention by age. Doubles as the row identity,
 *   so there is no separate index on id alone.
 * - audit_changes (transaction_id, captured_at, id): the changes of one transaction in order
 *   (incident bundle), and the newest changes of each transaction an actor or correlation filter
 *   selects, read index-only (the timeline by actor or correlation id touches one short index
 *   range per matching transaction, not every change since). Same cost class as a plain
 *   (transaction_id) index: one index either way, 16 bytes wider per entry.
 * Compact keys (schema version 7, docs/operations.md#index-keys): a change's table is
 * table_id, a small integer from the registry (captured_tables.table_id) that a rename or a move
 * to another schema keeps, and its row is key_hash = jsonb_hash_extended(table_pk, 0); readers
 * recheck table_pk, so a hash collision costs one extra heap fetch, never a wrong answer. Every
 * name a table id was captured under is in audit_table_names (table_ids() resolves a name).
 * Measured (`npm run bench:index-keys`, 1M changes preloaded): the change indexes are 0.74x the
 * size of the text + jsonb ones and cost 0.59x as much per captured change.
 * - audit_changes (table_id, key_hash, captured_at, id): row history and as-of.
 * - audit_changes (table_id, table_pk_before) partial: history of a row whose key was changed by
 *   an UPDATE (rare, so the index stays tiny).
 * - audit_changes (table_id, captured_at, id): timeline filtered by table.
 * - audit_changes (table_id, captured_at, id) partial WHERE op = 'truncate': as-of asks whether
 *   the table was truncated after the row's last change; without it that is a walk over every
 *   change of the table in between. Only TRUNCATE rows enter it, so capture of
 *   INSERT/UPDATE/DELETE pays only the predicate check.
 * - four legacy partial indexes WHERE table_id IS NULL, keyed by (table_schema, table_name, ...)
 *   as before version 7, only while rows written before table ids may exist (an upgraded install
 *   until storage maintain has keyed them, storage/legacy-indexes.ts): a fresh install has none,
 *   since capture pays for every index of the table even one no row enters (~5 % of its cost).
 * - audit_transactions (actor_ref, occurred_at, id) partial: actor history.
 * - audit_transactions (correlation_id) partial, audit_actions (correlation_id) partial:
 *   correlation filters.
 * - audit_transactions (causation_id) partial WHERE source = 'threadline:revert': the incident
 *   bundle's revertedBy (only revert transactions enter it).
 * - audit_actions (inserted_at, id), (transaction_id) partial: listing actions, action to capture.
 * There is no foreign key from changes to transactions: the capture function writes the
 * transaction row first in the same database transaction, so a change row never exists
 * without it, and the key check would cost on every captured row (research/capture-bench.md).
 */
/**
 * The columns of audit_changes (fresh installs and the partitioned table an upgrade creates).
 * "C" collation on the names: byte-wise comparison keeps the table-scoped indexes cheap.
 */
export const AUDIT_CHANGES_COLUMNS = `
  id bigint GENERATED ALWAYS AS IDENTITY,
  transaction_id bigint NOT NULL,
  table_schema text COLLATE "C" NOT NULL,
  table_name text COLLATE "C" NOT NULL,
  table_pk jsonb NOT NULL,
  table_id integer,
  key_hash bigint,
  table_pk_before jsonb,
  op text NOT NULL,
  data_after jsonb,
  data_before jsonb,
  changed_fields text[],
  changed_from jsonb,
  captured_at timestamptz NOT NULL,
  CONSTRAINT audit_changes_pkey PRIMARY KEY (captured_at, id)`;

export const STORAGE_DDL = String.raw`
CREATE SCHEMA IF NOT EXISTS @S;
-- Roles may call recordAction's function; reading audit tables still needs an explicit GRANT SELECT,
-- and no role but the owner may write them (privileges.ts).
GRANT USAGE ON SCHEMA @S TO PUBLIC;

CREATE TABLE IF NOT EXISTS @S.schema_version (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  version integer NOT NULL,
  installed_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS @S.audit_actions (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  actor_ref jsonb NOT NULL,
  status text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'error')),
  verb text,
  category text,
  reason text,
  comment text,
  correlation_id text,
  request_id text,
  job_id text,
  transaction_id bigint,
  inserted_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS @S.audit_transactions (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  txid bigint NOT NULL,
  occurred_at timestamptz NOT NULL DEFAULT now(),
  actor_ref jsonb,
  correlation_id text,
  request_id text,
  job_id text,
  causation_id text,
  source text,
  meta jsonb,
  action_id uuid
);

-- The storage layout (SPEC section 10): how audit_changes is partitioned. Install writes the
-- configured value; an existing unpartitioned table is converted by storage_convert (install --apply).
CREATE TABLE IF NOT EXISTS @S.storage_settings (
  singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  partition text NOT NULL CHECK (partition IN ('none', 'day', 'week', 'month'))
);
INSERT INTO @S.storage_settings (singleton, partition) VALUES (true, @PARTITION)
  ON CONFLICT (singleton) DO UPDATE SET partition = EXCLUDED.partition
  WHERE @S.storage_settings.partition IS DISTINCT FROM EXCLUDED.partition;

-- Partitioned by captured_at unless the setting is 'none'; the DEFAULT partition takes any row
-- that no range partition does (created ahead by storage_ensure), so no capture ever fails.
DO $do$
BEGIN
  IF to_regclass(format('%I.audit_changes', @LIT)) IS NULL THEN
    EXECUTE $t$CREATE TABLE @S.audit_changes (${AUDIT_CHANGES_COLUMNS})$t$
      || CASE WHEN (SELECT partition FROM @S.storage_settings) = 'none' THEN '' ELSE ' PARTITION BY RANGE (captured_at)' END;
    IF (SELECT partition FROM @S.storage_settings) <> 'none' THEN
      CREATE TABLE @S.audit_changes_default PARTITION OF @S.audit_changes DEFAULT;
      REVOKE ALL ON @S.audit_changes_default FROM PUBLIC;
    END IF;
  END IF;
END
$do$;


-- No grant to PUBLIC: capture writes through SECURITY DEFINER functions (privileges.ts).

CREATE TABLE IF NOT EXISTS @S.captured_tables (
  relid regclass PRIMARY KEY,
  table_schema text NOT NULL,
  table_name text NOT NULL,
  options jsonb NOT NULL,
  key_columns text[] NOT NULL,
  columns jsonb NOT NULL,
  function_name text NOT NULL,
  mode text NOT NULL,
  generated_at timestamptz NOT NULL DEFAULT now(),
  captured_since timestamptz NOT NULL DEFAULT now()
);

-- No CHECK on op: every writer of audit_changes is one of Threadline's own SECURITY DEFINER
-- functions (roles cannot write it, privileges.ts) writing a literal op, and a CHECK constraint is
-- rebuilt from its stored text by every INSERT statement (about 45,000 instructions, ~7% of
-- capture's cost in a TPC-B transaction, docs/capture.md). Installs that have one (a narrower one
-- before baselines) drop it: from the table, then from any partition that holds it as its own (a
-- table converted to the default partition).
DO $do$
DECLARE
  r record;
BEGIN
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = to_regclass(format('%I.audit_changes', @LIT)) AND conname = 'audit_changes_op_check') THEN
    ALTER TABLE @S.audit_changes DROP CONSTRAINT audit_changes_op_check;
  END IF;
  FOR r IN SELECT c.conrelid::regclass AS rel FROM pg_constraint c
            WHERE c.conname = 'audit_changes_op_check'
              AND c.conrelid IN (SELECT t.relid FROM pg_partition_tree(to_regclass(format('%I.audit_changes', @LIT))) t) LOOP
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT audit_changes_op_check', r.rel);
  END LOOP;
END
$do$;
-- Registry columns added after the first release (see capture-refresh.ts).
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(format('%I.captured_tables', @LIT)) AND attname = 'shape') THEN
    ALTER TABLE @S.captured_tables ADD COLUMN shape text, ADD COLUMN relations oid[],
      ADD COLUMN former_names jsonb NOT NULL DEFAULT '[]'::jsonb;
  END IF;
END
$do$;

${LEGACY_INDEXES}
-- Table ids (schema version 7): a small integer per captured table, kept across renames and
-- schema moves (the registry row follows the relation), written by capture into
-- audit_changes.table_id. audit_table_names holds every name a table id was captured under, so a
-- name resolves to ids (table_ids() in query-functions.ts) without any text in the change indexes.
CREATE SEQUENCE IF NOT EXISTS @S.audit_table_id_seq AS integer;
CREATE TABLE IF NOT EXISTS @S.audit_table_names (
  table_schema text COLLATE "C" NOT NULL,
  table_name text COLLATE "C" NOT NULL,
  table_id integer NOT NULL,
  PRIMARY KEY (table_schema, table_name, table_id)
);
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(format('%I.captured_tables', @LIT)) AND attname = 'table_id' AND NOT attisdropped) THEN
    ALTER TABLE @S.captured_tables ADD COLUMN table_id integer;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(format('%I.audit_changes', @LIT)) AND attname = 'table_id' AND NOT attisdropped) THEN
    -- Nullable, no default: metadata only, no rewrite. Existing rows are keyed in batches by
    -- storage_key_batch (storage maintain, install --apply); until then the legacy indexes find them.
    ALTER TABLE @S.audit_changes ADD COLUMN table_id integer, ADD COLUMN key_hash bigint;
    PERFORM @S.storage_legacy_create(true);
  END IF;
  IF EXISTS (SELECT 1 FROM @S.captured_tables WHERE table_id IS NULL) THEN
    UPDATE @S.captured_tables SET table_id = nextval(format('%I.audit_table_id_seq', @LIT)) WHERE table_id IS NULL;
  END IF;
END
$do$;
INSERT INTO @S.audit_table_names (table_schema, table_name, table_id)
  SELECT ct.table_schema, ct.table_name, ct.table_id FROM @S.captured_tables ct
  UNION SELECT f ->> 'schema', f ->> 'name', ct.table_id FROM @S.captured_tables ct, jsonb_array_elements(ct.former_names) f
  EXCEPT SELECT n.table_schema, n.table_name, n.table_id FROM @S.audit_table_names n
  ON CONFLICT DO NOTHING;

-- Marks Threadline's own DDL for one operation (capture-refresh.ts); always empty when committed.
CREATE TABLE IF NOT EXISTS @S.internal_nonce (id text PRIMARY KEY);

-- Indexes are created only when missing (on a partitioned audit_changes, on every partition): CREATE INDEX IF NOT EXISTS would still take a SHARE
-- lock on the table first, which blocks every audited write while a re-run install waits.
CREATE OR REPLACE FUNCTION @S.storage_create_indexes() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  storage text := @LIT;
  ix text[];
  old text;
BEGIN
  -- Indexes of earlier layouts (the text + jsonb keys of schema version 6 and before).
  FOREACH old IN ARRAY ARRAY['audit_changes_transaction_idx', 'audit_changes_row_idx', 'audit_changes_row_before_idx',
                             'audit_changes_table_time_idx', 'audit_changes_truncate_idx'] LOOP
    IF to_regclass(format('%I.%I', storage, old)) IS NOT NULL THEN
      EXECUTE format('DROP INDEX %I.%I', storage, old);
    END IF;
  END LOOP;
  FOREACH ix SLICE 1 IN ARRAY ARRAY[
    ['audit_changes_transaction_time_idx', $i$ON %I.audit_changes (transaction_id, captured_at, id)$i$],
    ['audit_changes_key_idx', $i$ON %I.audit_changes (table_id, key_hash, captured_at, id)$i$],
    ['audit_changes_key_before_idx', $i$ON %I.audit_changes (table_id, table_pk_before) WHERE table_pk_before IS NOT NULL$i$],
    ['audit_changes_table_idx', $i$ON %I.audit_changes (table_id, captured_at, id)$i$],
    ['audit_changes_table_truncate_idx', $i$ON %I.audit_changes (table_id, captured_at, id) WHERE op = 'truncate'$i$],
    ['audit_transactions_actor_idx', $i$ON %I.audit_transactions (actor_ref, occurred_at, id) WHERE actor_ref IS NOT NULL$i$],
    ['audit_transactions_correlation_idx', $i$ON %I.audit_transactions (correlation_id) WHERE correlation_id IS NOT NULL$i$],
    ['audit_actions_inserted_idx', $i$ON %I.audit_actions (inserted_at, id)$i$],
    ['audit_actions_correlation_idx', $i$ON %I.audit_actions (correlation_id) WHERE correlation_id IS NOT NULL$i$],
    ['audit_actions_transaction_idx', $i$ON %I.audit_actions (transaction_id) WHERE transaction_id IS NOT NULL$i$],
    -- Reverts of a transaction or bundle (tl.revert, the incident's revertedBy).
    ['audit_transactions_revert_idx', $i$ON %I.audit_transactions (causation_id) WHERE source = 'threadline:revert'$i$],
    -- Timeline by request id, job id and "no actor", incident by request or job: the matching
    -- transactions, from a partial index each (no row enters one whose column is NULL / set).
    ['audit_transactions_request_idx', $i$ON %I.audit_transactions (request_id) WHERE request_id IS NOT NULL$i$],
    ['audit_transactions_job_idx', $i$ON %I.audit_transactions (job_id) WHERE job_id IS NOT NULL$i$],
    ['audit_transactions_no_actor_idx', $i$ON %I.audit_transactions (id) WHERE actor_ref IS NULL$i$],
    -- The activity rollup's stragglers (activity-ddl.ts: transactions at or above its watermark).
    ['audit_transactions_txid_idx', $i$ON %I.audit_transactions (txid)$i$],
    -- Purges: the transactions linked to an action (deleteEmpty, the dry-run count).
    ['audit_transactions_action_idx', $i$ON %I.audit_transactions (action_id) WHERE action_id IS NOT NULL$i$]
  ] LOOP
    IF to_regclass(format('%I.%I', storage, ix[1])) IS NULL THEN
      EXECUTE format('CREATE INDEX %I ' || ix[2], ix[1], storage);
    END IF;
  END LOOP;
END
$fn$;
SELECT @S.storage_create_indexes();
-- Rows without a table id may have been written since the last install (capture functions of a
-- release before version 7): the legacy indexes again, until maintain has keyed them.
SELECT @S.storage_legacy_create(false);

-- Backups keep working for the database owner (pg_dump reads every table and sequence it dumps).
DO $do$
DECLARE
  storage text := @LIT;
  owner_role name := (SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database());
BEGIN
  IF owner_role <> current_user AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = owner_role) AND EXISTS (
       SELECT 1 FROM pg_class c WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = storage) AND c.relkind IN ('r', 'S')
          AND NOT has_table_privilege(owner_role, c.oid, 'SELECT')) THEN
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO %I', storage, owner_role);
    EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO %I', storage, owner_role);
  END IF;
END
$do$;

-- Identity sequences are not carried by logical replication: after a cutover they restart below
-- the replicated ids. Move them past the highest id present (a re-run that finds them ahead
-- changes nothing). audit_changes is read newest-first by its primary key, not scanned.
DO $do$
DECLARE
  storage text := @LIT;
  t record;
  hi bigint;
  last bigint;
  called boolean;
BEGIN
  FOR t IN SELECT * FROM (VALUES
      ('audit_transactions', 'SELECT max(id) FROM %I.audit_transactions'),
      ('audit_changes', 'SELECT max(id) FROM (SELECT id FROM %I.audit_changes ORDER BY captured_at DESC, id DESC LIMIT 1000) x')) v(tbl, probe) LOOP
    EXECUTE format(t.probe, storage) INTO hi;
    CONTINUE WHEN hi IS NULL;
    EXECUTE format('SELECT last_value, is_called FROM %s', pg_get_serial_sequence(format('%I.%I', storage, t.tbl), 'id')) INTO last, called;
    IF hi > last OR (hi = last AND NOT called) THEN
      PERFORM setval(pg_get_serial_sequence(format('%I.%I', storage, t.tbl), 'id'), hi);
    END IF;
  END LOOP;
END
$do$;
`;
