import { AUDIT_CHANGES_COLUMNS } from '../install/storage-ddl.js';

/**
 * The in-place upgrade of an unpartitioned audit_changes (installs made before SPEC section 10's
 * layout, or with `partition: 'none'`) to the partitioned layout. `@S` is the quoted storage
 * schema. One short transaction, no data copied: the existing table becomes the DEFAULT partition
 * of a new partitioned audit_changes (its indexes are attached, not rebuilt), so every query sees
 * every row at every moment. Its rows are then moved into range partitions period by period by
 * storage maintain (one transaction per period; `threadline install --apply` runs it with progress).
 * Privileges granted on the old table move to the new one; the old table keeps none but its owner's.
 */
export const STORAGE_CONVERT = String.raw`
CREATE OR REPLACE FUNCTION @S.storage_convert() RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET TimeZone = 'UTC' AS $fn$
DECLARE
  storage text := @LIT;
  legacy regclass := to_regclass(format('%I.audit_changes', storage));
  parent regclass;
  seq text;
  seq_last bigint;
  seq_called boolean;
  ix record;
  g record;
  estimate bigint;
BEGIN
  IF legacy IS NULL OR (SELECT relkind FROM pg_class WHERE oid = legacy) = 'p'
     OR (SELECT s.partition FROM @S.storage_settings s) = 'none' THEN
    RETURN jsonb_build_object('converted', false);
  END IF;
  IF to_regclass(format('%I.audit_changes_default', storage)) IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'TLST1',
      MESSAGE = format('cannot convert %I.audit_changes to partitions: a table %I.audit_changes_default already exists', storage, storage),
      HINT = 'Rename or drop that table (it is not Threadline''s), then run threadline install --apply again.';
  END IF;
  -- Capture waits for this transaction (milliseconds: catalog changes only).
  EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', legacy);
  estimate := greatest((SELECT reltuples FROM pg_class WHERE oid = legacy), 0)::bigint;
  seq := pg_get_serial_sequence(legacy::text, 'id');
  IF seq IS NOT NULL THEN
    EXECUTE format('SELECT last_value, is_called FROM %s', seq) INTO seq_last, seq_called;
  END IF;
  -- The op check of older installs goes (storage-ddl.ts says why).
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = legacy AND conname = 'audit_changes_op_check') THEN
    EXECUTE format('ALTER TABLE %s DROP CONSTRAINT audit_changes_op_check', legacy);
  END IF;
  EXECUTE format('ALTER TABLE %s RENAME TO audit_changes_default', legacy);
  FOR ix IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
             WHERE i.indrelid = legacy AND c.relname LIKE E'audit\\_changes\\_%' LOOP
    EXECUTE format('ALTER INDEX %I.%I RENAME TO %I', storage, ix.relname,
                   'audit_changes_default_' || substr(ix.relname, length('audit_changes_') + 1));
  END LOOP;
  IF seq IS NOT NULL THEN
    EXECUTE format('ALTER TABLE %s ALTER COLUMN id DROP IDENTITY', legacy);
  END IF;
  EXECUTE $t$CREATE TABLE @S.audit_changes (${AUDIT_CHANGES_COLUMNS}) PARTITION BY RANGE (captured_at)$t$;
  parent := to_regclass(format('%I.audit_changes', storage));
  IF seq_called THEN
    PERFORM setval(pg_get_serial_sequence(parent::text, 'id'), seq_last);
  END IF;
  PERFORM @S.storage_create_indexes();
  -- The legacy indexes on the new table too when the old one has them (rows not keyed yet).
  PERFORM @S.storage_legacy_create(to_regclass(format('%I.audit_changes_default_legacy_table_idx', storage)) IS NOT NULL);
  -- Matching indexes of the old table are attached to the new ones (no rebuild, no scan: a
  -- default partition attached while no other partition exists needs no check).
  EXECUTE format('ALTER TABLE %s ATTACH PARTITION %s DEFAULT', parent, legacy);
  FOR g IN SELECT a.grantee, a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a
            WHERE c.oid = legacy AND a.grantee <> c.relowner LOOP
    EXECUTE format('GRANT %s ON %s TO %s%s', g.privilege_type, parent,
                   CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END,
                   CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    EXECUTE format('REVOKE %s ON %s FROM %s', g.privilege_type, legacy,
                   CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(g.grantee)) END);
  END LOOP;
  RETURN jsonb_build_object('converted', true, 'rowEstimate', estimate);
END
$fn$;
`;
