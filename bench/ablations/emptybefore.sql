CREATE OR REPLACE FUNCTION threadline.capture_statement_start() RETURNS trigger LANGUAGE plpgsql AS $b$BEGIN RETURN NULL; END$b$;
