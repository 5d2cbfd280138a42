/**
 * Regeneration of one captured table after DDL, from its stored options (called by the DDL
 * event trigger in ddl-sync.ts). `@S` is the quoted storage schema, `@LIT` its name as a literal.
 */
export const CAPTURE_REFRESH = String.raw`
-- Regenerate a captured table from its stored options after DDL. Column names in the options
-- follow renames (tracked by attribute number); dropped columns leave the options. Never raises:
-- if the table can no longer be captured as configured, capture continues in portable mode and a
-- WARNING says what to fix, so neither the DDL nor later writes fail.
CREATE OR REPLACE FUNCTION @S.refresh_capture(p_relid oid) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  reg record;
  cur_schema text;
  cur_name text;
  now_cols jsonb;
  opts jsonb;
  k text;
BEGIN
  SELECT ct.* INTO reg FROM @S.captured_tables ct WHERE ct.relid = p_relid;
  IF reg IS NULL THEN RETURN; END IF;
  SELECT ns.nspname, cl.relname INTO cur_schema, cur_name FROM pg_class cl JOIN pg_namespace ns ON ns.oid = cl.relnamespace WHERE cl.oid = p_relid;
  IF cur_name IS NULL THEN RETURN; END IF;
  SELECT jsonb_object_agg(a.attnum::text, a.attname::text) INTO now_cols
    FROM pg_attribute a WHERE a.attrelid = p_relid AND a.attnum > 0 AND NOT a.attisdropped;
  opts := reg.options;
  FOREACH k IN ARRAY ARRAY['exclude', 'mask', 'exceptColumns', 'primaryKey'] LOOP
    IF jsonb_typeof(opts -> k) = 'array' THEN
      -- A name follows its column by attribute number (a rename); a name whose column is gone
      -- but that exists again (dropped and re-added) is kept, so a mask is never lost.
      opts := jsonb_set(opts, ARRAY[k], coalesce((
        SELECT jsonb_agg(m.now_name ORDER BY m.ord) FROM (
          SELECT e.ord, coalesce(now_cols ->> (SELECT j.key FROM jsonb_each_text(reg.columns) j WHERE j.value = e.name LIMIT 1),
                                 (SELECT e.name WHERE EXISTS (SELECT 1 FROM jsonb_each_text(now_cols) n WHERE n.value = e.name))) AS now_name
            FROM jsonb_array_elements_text(opts -> k) WITH ORDINALITY e(name, ord)) m
         WHERE m.now_name IS NOT NULL), '[]'::jsonb));
    END IF;
  END LOOP;
  IF jsonb_typeof(opts -> 'primaryKey') = 'array' AND jsonb_array_length(opts -> 'primaryKey') = 0 THEN
    opts := opts - 'primaryKey';
  END IF;
  BEGIN
    PERFORM @S.enable_capture(cur_schema, cur_name, opts);
  EXCEPTION WHEN others THEN
    RAISE WARNING 'threadline: capture for %.% could not be regenerated as configured: %', quote_ident(cur_schema), quote_ident(cur_name), SQLERRM
      USING HINT = 'Capture continues in portable mode. Fix the table or its Threadline options, then run threadline gen-triggers.';
    PERFORM @S.enable_capture(cur_schema, cur_name, opts - 'primaryKey', 'portable', true);
  END;
END
$fn$;
`;
