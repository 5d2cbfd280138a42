CREATE OR REPLACE FUNCTION threadline.current_transaction_id() RETURNS bigint LANGUAGE plpgsql STABLE SECURITY DEFINER AS $$
DECLARE
  cached pg_catalog.text := pg_catalog.current_setting('threadline.transaction', true);
  id_text pg_catalog.text := pg_catalog.split_part(cached, ':', 2);
BEGIN
  IF pg_catalog.split_part(cached, ':', 1) OPERATOR(pg_catalog.=) pg_catalog.txid_current()::pg_catalog.text AND id_text <> '' THEN
    RETURN id_text::int8;
  END IF;
  RETURN "threadline".begin_audit_transaction();
END $$;
