DO $$ DECLARE r record; d text; BEGIN FOR r IN SELECT oid FROM pg_proc WHERE proname LIKE 'capture_tpcb%' LOOP
  d := pg_get_functiondef(r.oid);
  d := replace(d, 'tl_at := threadline.capture_started_at();', 'tl_at := clock_timestamp();');
  EXECUTE d;
END LOOP; END $$;
