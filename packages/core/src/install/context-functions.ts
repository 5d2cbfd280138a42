import { NOT_IN_ID_SQL } from '../context/id-rule.js';

/**
 * The helpers that read the bound context without ever raising (begin_audit_transaction and
 * record_action call them): JSON parsing that returns NULL instead of an error, the rule for a
 * context id, and the salvage of a context that jsonb cannot store whole. `@S` is the quoted
 * storage schema.
 */
/**
 * The characters a context id must not hold (id-rule.ts: controls, format and other invisible
 * characters, spaces other than U+0020), as a regular expression class inside an E'' literal: the
 * list the JavaScript checks use, shared by clean_context_id and context_is_clean, so the shortcut
 * can never accept what the rule refuses and JavaScript refuses exactly what the database does.
 */
const NOT_IN_ID = NOT_IN_ID_SQL;

export const CONTEXT_FUNCTIONS = String.raw`
-- Parse text as jsonb, or NULL when it is not valid JSON (never raises).
CREATE OR REPLACE FUNCTION @S.try_jsonb(p_text text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  RETURN p_text::jsonb;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$fn$;

-- A context id (id-rule.ts): a string (or a number) trimmed of U+0020 at both ends (btrim trims
-- nothing else), of 1..256 bytes, without control, format or invisible characters or spaces other
-- than U+0020; else NULL. The bound applies to numbers too: 42.5e999 renders as 1,001 digits. One
-- plain SQL expression (no FROM, no SET clause) so that callers inline it: a call that is not inlined is
-- parsed and planned again in every transaction (fmgr_sql), ~20 µs each. Schema-qualified
-- throughout: it is inlined into SECURITY DEFINER callers and parsed with their search_path.
CREATE OR REPLACE FUNCTION @S.clean_context_id(p_value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE
    WHEN NOT pg_catalog.jsonb_typeof(p_value) OPERATOR(pg_catalog.=) ANY ('{number,string}'::pg_catalog.text[]) THEN NULL
    WHEN pg_catalog.btrim(p_value OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.=) '' THEN NULL
    WHEN pg_catalog.octet_length(pg_catalog.btrim(p_value OPERATOR(pg_catalog.#>>) '{}')) OPERATOR(pg_catalog.>) 256 THEN NULL
    WHEN pg_catalog.btrim(p_value OPERATOR(pg_catalog.#>>) '{}') OPERATOR(pg_catalog.~) E'${NOT_IN_ID}' THEN NULL
    ELSE pg_catalog.btrim(p_value OPERATOR(pg_catalog.#>>) '{}')
  END
$fn$;

-- True when the bound actor and context need no cleaning, the common case, so that
-- begin_audit_transaction skips the rules field by field (same outcome, a fraction of the work):
-- the actor is absent, {"type": "anonymous"} or {"type": <known>, "id": <string>}; the context is
-- absent or an object of known keys; and their text p_text (context_text) shows every id as a
-- string of at most 64 characters (256 bytes), with no leading or trailing space, no character a
-- context id must not hold, and no backslash (jsonb writes control characters, quotes and
-- backslashes as escapes, so without one the text's quotes delimit the strings exactly). Anything
-- else (a number, null, "", a long or escaped string, or a string holding ": ") answers false: the
-- full rules decide. One plain SQL expression, inlined like clean_context_id, with few function
-- calls (the expression is set up again in every transaction, each call costs): the actor less
-- its id is one of the known {"type": ...} objects; || '{}' turns a scalar or an array into an
-- array (never equal to an object) where - would raise for a scalar. The text is a parameter,
-- worked out once by the caller: an inlined expression works a repeated subexpression out again
-- for every use (~20K instructions less per TPC-B transaction than the two jsonb_typeof guards,
-- the key checks one by one and the text twice, bench/src/capture-instructions.ts).
DROP FUNCTION IF EXISTS @S.context_is_clean(jsonb, jsonb);
CREATE OR REPLACE FUNCTION @S.context_is_clean(p_actor jsonb, p_ctx jsonb, p_text text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE
    WHEN p_actor IS NOT NULL
         AND p_actor OPERATOR(pg_catalog.<>) '{"type": "anonymous"}'::pg_catalog.jsonb
         AND NOT (p_actor OPERATOR(pg_catalog.?) 'id'
                  AND ((p_actor OPERATOR(pg_catalog.||) '{}'::pg_catalog.jsonb) OPERATOR(pg_catalog.-) 'id')
                      OPERATOR(pg_catalog.=) ANY (ARRAY['{"type": "user"}'::pg_catalog.jsonb, '{"type": "admin"}'::pg_catalog.jsonb,
                                '{"type": "service_account"}'::pg_catalog.jsonb, '{"type": "job"}'::pg_catalog.jsonb, '{"type": "system"}'::pg_catalog.jsonb])) THEN false
    WHEN p_ctx IS NOT NULL
         AND NOT ((p_ctx OPERATOR(pg_catalog.||) '{}'::pg_catalog.jsonb) OPERATOR(pg_catalog.-) '{correlationId,requestId,jobId,causationId,source,meta}'::pg_catalog.text[])
                 OPERATOR(pg_catalog.=) '{}'::pg_catalog.jsonb THEN false
    WHEN p_text IS NULL OR pg_catalog.octet_length(p_text) OPERATOR(pg_catalog.>) 269 THEN false
    ELSE NOT (p_text OPERATOR(pg_catalog.~) E'${NOT_IN_ID}|\\\\|: [^"]|""|: " | "[,}]')
  END
$fn$;

-- The text context_is_clean reads: the actor's, then the context's without meta, as jsonb writes
-- them (none for a context that is not an object: context_is_clean refuses that before reading
-- the text). STABLE like concat, so that it is inlined.
CREATE OR REPLACE FUNCTION @S.context_text(p_actor jsonb, p_ctx jsonb) RETURNS text
LANGUAGE sql STABLE AS $fn$
  SELECT pg_catalog.concat(p_actor::pg_catalog.text,
    CASE WHEN pg_catalog.jsonb_typeof(p_ctx) OPERATOR(pg_catalog.=) 'object' THEN (p_ctx OPERATOR(pg_catalog.-) 'meta')::pg_catalog.text END)
$fn$;

-- Parse text as json (valid JSON syntax, whatever jsonb can store), or NULL (never raises).
CREATE OR REPLACE FUNCTION @S.try_json(p_text text) RETURNS json
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $fn$
BEGIN
  RETURN p_text::json;
EXCEPTION WHEN others THEN
  RETURN NULL;
END
$fn$;

-- A context setting that is valid JSON but not storable as jsonb (a \u0000 escape or a lone
-- UTF-16 surrogate escape, which jsonb rejects, or a number beyond numeric's range): every
-- top-level field without one is kept, so a NUL in meta does not drop the transaction's valid ids.
-- The escapes are swapped for a random marker to find their fields (the json type cannot be walked
-- with them: it converts every string it meets); each remaining field is converted on its own.
-- Returns {"value": {...}, "dropped": [keys]}, or {"error": "..."} when the text is not valid JSON
-- or not a JSON object. E'' literals: the backslashes of a plain literal mean something else in a
-- session with standard_conforming_strings = off (plpgsql compiles under the session's setting).
CREATE OR REPLACE FUNCTION @S.salvage_jsonb_object(p_text text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  marker text := 'threadline-unstorable-' || md5(random()::text || clock_timestamp()::text);
  txt text := p_text;
  nxt text;
  parsed json;
  v jsonb;
  kept jsonb := '{}'::jsonb;
  dropped text[] := '{}';
  f record;
BEGIN
  IF @S.try_json(p_text) IS NULL THEN RETURN '{"error": "not valid JSON"}'; END IF;
  -- An escape preceded by an even number of backslashes (adjacent ones need another pass): \u0000,
  -- a high surrogate without its low one, a low surrogate without its high one.
  LOOP
    nxt := regexp_replace(txt, E'(^|[^\\\\])((\\\\\\\\)*)(\\\\u0000|\\\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\\\u[dD][c-fC-F][0-9a-fA-F]{2})|(?<!\\\\u[dD][89abAB][0-9a-fA-F]{2})\\\\u[dD][c-fC-F][0-9a-fA-F]{2})',
                          E'\\1\\2' || marker, 'g');
    EXIT WHEN nxt = txt;
    txt := nxt;
  END LOOP;
  parsed := txt::json;
  IF json_typeof(parsed) <> 'object' THEN RETURN '{"error": "not a JSON object"}'; END IF;
  FOR f IN SELECT e.key, e.value FROM json_each(parsed) e LOOP
    v := CASE WHEN strpos(f.key, marker) = 0 AND strpos(f.value::text, marker) = 0 THEN @S.try_jsonb(f.value::text) END;
    IF v IS NULL THEN
      dropped := dropped || replace(f.key, marker, E'\\ufffd');
    ELSE
      kept := kept || jsonb_build_object(f.key, v);
    END IF;
  END LOOP;
  RETURN jsonb_build_object('value', kept, 'dropped', to_jsonb(dropped));
EXCEPTION WHEN others THEN
  RETURN '{"error": "not valid JSON"}';
END
$fn$;
`;
