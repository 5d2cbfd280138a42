import { ID_RULE } from '../context/id-rule.js';

/**
 * Functions the capture triggers and recordAction() call at run time. `@S` is the quoted storage
 * schema. All state is transaction-local (set_config(..., true)), so this works behind PgBouncer
 * in transaction mode. Functions that write audit rows are SECURITY DEFINER, so roles need (and
 * have) no privileges on Threadline's tables; the generated capture functions too, guarded against
 * running another role's json cast with the owner's rights (privileges.ts, docs/security.md).
 */
export const RUNTIME_FUNCTIONS = String.raw`
-- The audit transaction of the current database transaction, created on first use.
-- Found again through the transaction-local setting threadline.transaction ("txid:id:ctid"), never
-- by txid alone. A session can write that setting, so it is only a hint: the id is used only when
-- its audit_transactions row was written by this very transaction (same txid and same transaction
-- start time now(); sessions cannot insert into audit_transactions). A SERIALIZABLE transaction
-- reads the row by its ctid: a TID scan of a row this transaction wrote takes no SIREAD lock, so
-- it does not conflict with the concurrent transactions inserting next to it (a primary-key probe
-- locks the index page they insert into: spurious 40001 failures); other isolation levels take no
-- predicate locks and use the cheaper primary-key probe. Anything else (another
-- transaction's id, a made-up or non-numeric value) is ignored and a fresh audit transaction is
-- created, with the attempt named in meta.threadline_context_error.transaction.
-- The first call of a transaction validates the bound context without ever raising: a value that
-- is malformed is left out and named in meta.threadline_context_error.
-- Every captured statement calls it: this is the fast path (a valid cached id), schema-qualified
-- throughout instead of a SET clause (a SET clause costs on every call; types, functions and
-- operators are all named with their schema, so no search_path or pg_temp object can stand in for
-- them). Anything else goes to begin_audit_transaction, which checks the setting again itself.
-- STABLE: it returns one id for the whole transaction, and its own statement only reads (the one
-- write, the audit row on first use, is begin_audit_transaction's, a VOLATILE function). That lets
-- the planner pull the SELECT of a capture INSERT up into the INSERT (a volatile call in its target
-- list kept it as a subquery scan of its own) and runs the probe on the calling statement's
-- snapshot instead of taking a new one: about 62K instructions less per TPC-B transaction
-- (bench/src/capture-instructions.ts). A probe that cannot see the row (a caller that calls it once
-- per row of a statement that created it) only hands over to begin_audit_transaction, which finds
-- it: callers that need it more than once per statement wrap it in a sub-select (evaluated once).
CREATE OR REPLACE FUNCTION @S.current_transaction_id() RETURNS pg_catalog.int8
LANGUAGE plpgsql STABLE SECURITY DEFINER AS $fn$
DECLARE
  cached pg_catalog.text := pg_catalog.current_setting('threadline.transaction', true);
  id_text pg_catalog.text := pg_catalog.split_part(cached, ':', 2);
  row_text pg_catalog.text;
  cached_id pg_catalog.int8;
BEGIN
  -- One condition, few statements: every plpgsql statement costs. Any positive bigint, 19 digits too.
  IF pg_catalog.split_part(cached, ':', 1) OPERATOR(pg_catalog.=) pg_catalog.txid_current()::pg_catalog.text
     AND pg_catalog.length(id_text) OPERATOR(pg_catalog.<=) 19 AND id_text OPERATOR(pg_catalog.<>) ''
     AND pg_catalog.ltrim(id_text, '0123456789') OPERATOR(pg_catalog.=) ''
     AND (pg_catalog.length(id_text) OPERATOR(pg_catalog.<) 19
          OR id_text OPERATOR(pg_catalog.<=) ('9223372036854775807' COLLATE pg_catalog."C")) THEN
    IF pg_catalog.current_setting('transaction_isolation') OPERATOR(pg_catalog.<>) 'serializable' THEN
      -- By primary key (no predicate locks here; ~3 µs less CPU than a TID scan). SELECT INTO,
      -- not IF EXISTS: one plan node instead of a Result over a subplan.
      SELECT t.id INTO cached_id FROM @S.audit_transactions t
       WHERE t.id OPERATOR(pg_catalog.=) id_text::pg_catalog.int8 AND t.txid OPERATOR(pg_catalog.=) pg_catalog.txid_current()
         AND t.occurred_at OPERATOR(pg_catalog.=) pg_catalog.now();
      IF cached_id IS NOT NULL THEN
        RETURN cached_id;
      END IF;
    ELSE
      -- By ctid: no SIREAD lock (a row this transaction wrote), so no spurious 40001.
      row_text := pg_catalog.split_part(cached, ':', 3);
      IF row_text OPERATOR(pg_catalog.~) '^[(][0-9]{1,9},[0-9]{1,4}[)]$'
         AND EXISTS (SELECT 1 FROM @S.audit_transactions t
                      WHERE t.ctid OPERATOR(pg_catalog.=) row_text::pg_catalog.tid AND t.id OPERATOR(pg_catalog.=) id_text::pg_catalog.int8
                        AND t.txid OPERATOR(pg_catalog.=) pg_catalog.txid_current() AND t.occurred_at OPERATOR(pg_catalog.=) pg_catalog.now()) THEN
        RETURN id_text::pg_catalog.int8;
      END IF;
    END IF;
  END IF;
  RETURN @S.begin_audit_transaction();
END
$fn$;

-- The first call of a transaction (and any call whose cached id does not check out).
CREATE OR REPLACE FUNCTION @S.begin_audit_transaction() RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  cached text := current_setting('threadline.transaction', true);
  xid bigint := txid_current();
  sep integer;
  id_text text;
  row_text text;
  cached_id bigint;
  new_row tid;
  raw_actor text := nullif(current_setting('threadline.actor_ref', true), '');
  raw_ctx text := nullif(current_setting('threadline.context', true), '');
  actor jsonb;
  ctx jsonb;
  shown text;
  salvaged jsonb;
  kind text;
  problems jsonb := '{}'::jsonb;
  meta jsonb;
  ids jsonb := '{}'::jsonb;
  field text;
  value text;
  new_id bigint;
BEGIN
  IF cached IS NOT NULL AND cached <> '' THEN
    sep := strpos(cached, ':');
    id_text := split_part(substr(cached, sep + 1), ':', 1);
    row_text := split_part(substr(cached, sep + 1), ':', 2);
    -- Any positive bigint (19 digits too); by its row version first (no SIREAD lock), then by id.
    IF sep > 1 AND left(cached, sep - 1) = xid::text AND id_text ~ '^[0-9]{1,19}$' AND id_text::numeric <= 9223372036854775807 THEN
      IF row_text ~ '^[(][0-9]{1,9},[0-9]{1,4}[)]$' THEN
        SELECT t.id INTO cached_id FROM @S.audit_transactions t
         WHERE t.ctid = row_text::tid AND t.id::text = id_text AND t.txid = xid AND t.occurred_at = now();
      END IF;
      IF cached_id IS NULL THEN
        SELECT t.id, t.ctid INTO cached_id, new_row FROM @S.audit_transactions t
         WHERE t.id = id_text::bigint AND t.txid = xid AND t.occurred_at = now();
        IF cached_id IS NOT NULL THEN
          cached := set_config('threadline.transaction', xid::text || ':' || cached_id::text || ':' || new_row::text, true);
        END IF;
      END IF;
      IF cached_id IS NOT NULL THEN
        RETURN cached_id;
      END IF;
    END IF;
    problems := problems || '{"transaction": "threadline.transaction was set by the session, not by Threadline (ignored)"}';
    -- Overwritten after this transaction wrote its audit row: that row, found by txid, keeps
    -- taking the changes (one database transaction stays one audit transaction) and records the
    -- attempt. Only on this path: the common first call of a transaction never looks. Not under
    -- SERIALIZABLE: the index probe's predicate lock would make other writers fail with 40001
    -- (there the changes go to a new audit row with the note, as before).
    IF current_setting('transaction_isolation') <> 'serializable' THEN
      SELECT t.id, t.ctid INTO cached_id, new_row FROM @S.audit_transactions t
       WHERE t.txid = xid AND t.occurred_at = now() ORDER BY t.id LIMIT 1;
    END IF;
    IF cached_id IS NOT NULL THEN
      UPDATE @S.audit_transactions t
         SET meta = coalesce(t.meta, '{}'::jsonb) || jsonb_build_object('threadline_context_error',
                      coalesce(t.meta -> 'threadline_context_error', '{}'::jsonb) || problems)
       WHERE t.ctid = new_row AND t.id = cached_id
      RETURNING t.ctid INTO new_row;
      cached := set_config('threadline.transaction', xid::text || ':' || cached_id::text || ':' || new_row::text, true);
      RETURN cached_id;
    END IF;
  END IF;

  IF raw_actor IS NOT NULL OR raw_ctx IS NOT NULL THEN
    BEGIN  -- one protected block for both casts; only a malformed value pays for a second look
      actor := raw_actor::jsonb;
      ctx := raw_ctx::jsonb;
    EXCEPTION WHEN others THEN
      actor := @S.try_jsonb(raw_actor);
      ctx := @S.try_jsonb(raw_ctx);
      IF raw_actor IS NOT NULL AND actor IS NULL THEN
        problems := problems || CASE WHEN @S.try_json(raw_actor) IS NULL
          THEN '{"actor_ref": "threadline.actor_ref is not valid JSON"}'::jsonb
          ELSE jsonb_build_object('actor_ref', E'threadline.actor_ref holds a value jsonb cannot store (a \\u0000 escape, a lone surrogate escape or a number beyond numeric''s range)') END;
      END IF;
      IF raw_ctx IS NOT NULL AND ctx IS NULL THEN
        salvaged := @S.salvage_jsonb_object(raw_ctx);
        IF salvaged ? 'error' THEN
          problems := problems || jsonb_build_object('context', 'threadline.context is ' || (salvaged ->> 'error'));
        ELSE
          ctx := salvaged -> 'value';
          problems := problems || jsonb_build_object('unstorable', format(
            E'left out (jsonb cannot store a \\u0000 escape, a lone surrogate escape or a number beyond numeric''s range): %s',
            salvaged -> 'dropped'));
        END IF;
      END IF;
    END;
  END IF;

  -- The common case, an actor and context that are clean already (context_is_clean): nothing to
  -- take apart, the ids are the context's fields as they are.
  shown := @S.context_text(actor, ctx);  -- once (an assignment), not once per use in the check
  IF @S.context_is_clean(actor, ctx, shown) THEN
    ids := coalesce(ctx - 'meta', '{}'::jsonb);
  ELSE
    IF actor IS NOT NULL THEN
      kind := CASE WHEN jsonb_typeof(actor) = 'object' AND jsonb_typeof(actor -> 'type') = 'string' THEN actor ->> 'type' END;
      IF kind IS NULL OR kind NOT IN ('user', 'admin', 'service_account', 'job', 'system', 'anonymous') THEN
        problems := problems || '{"actor_ref": "threadline.actor_ref has an unknown type"}';
        actor := NULL;
      ELSIF actor - 'type' - 'id' <> '{}'::jsonb THEN
        problems := problems || '{"actor_ref": "threadline.actor_ref has keys other than type and id"}';
        actor := NULL;
      ELSIF kind = 'anonymous' THEN
        IF coalesce(actor -> 'id', 'null'::jsonb) <> 'null'::jsonb THEN
          problems := problems || '{"actor_ref": "threadline.actor_ref: an anonymous actor has no id"}';
          actor := NULL;
        ELSE
          actor := '{"type": "anonymous"}'::jsonb;
        END IF;
      ELSE
        value := @S.clean_context_id(actor -> 'id');
        IF value IS NULL THEN
          problems := problems || '{"actor_ref": "threadline.actor_ref needs an id that is ${ID_RULE}"}';
          actor := NULL;
        ELSE
          actor := jsonb_build_object('type', kind, 'id', value);
        END IF;
      END IF;
    END IF;

    IF ctx IS NOT NULL AND jsonb_typeof(ctx) <> 'object' THEN
      problems := problems || '{"context": "threadline.context is not a JSON object"}';
      ctx := NULL;
    END IF;
    IF ctx IS NOT NULL THEN
      FOREACH field IN ARRAY ARRAY['correlationId', 'requestId', 'jobId', 'causationId', 'source'] LOOP
        IF coalesce(ctx -> field, 'null'::jsonb) <> 'null'::jsonb THEN
          value := @S.clean_context_id(ctx -> field);
          IF value IS NULL THEN
            problems := problems || jsonb_build_object(field, 'must be ${ID_RULE}');
          ELSE
            ids := ids || jsonb_build_object(field, value);
          END IF;
        END IF;
      END LOOP;
      IF ctx - ARRAY['correlationId', 'requestId', 'jobId', 'causationId', 'source', 'meta'] <> '{}'::jsonb THEN
        problems := problems || '{"context": "threadline.context has unknown keys (ignored)"}';
      END IF;
    END IF;
  END IF;

  IF coalesce(ctx -> 'meta', 'null'::jsonb) <> 'null'::jsonb THEN
    IF jsonb_typeof(ctx -> 'meta') <> 'object' OR octet_length((ctx -> 'meta')::text) > 8192 THEN
      problems := problems || '{"meta": "must be a JSON object of at most 8192 bytes"}';
    ELSE
      meta := ctx -> 'meta';
    END IF;
  END IF;

  IF problems <> '{}'::jsonb THEN
    meta := coalesce(meta, '{}'::jsonb) || jsonb_build_object('threadline_context_error', problems);
  END IF;

  INSERT INTO @S.audit_transactions
    (txid, actor_ref, correlation_id, request_id, job_id, causation_id, source, meta)
  VALUES
    (xid, actor, ids ->> 'correlationId', ids ->> 'requestId', ids ->> 'jobId', ids ->> 'causationId', ids ->> 'source', meta)
  RETURNING id, ctid INTO new_id, new_row;
  -- An assignment, not PERFORM: a simple expression, no executor.
  cached := set_config('threadline.transaction', xid::text || ':' || new_id::text || ':' || new_row::text, true);
  RETURN new_id;
END
$fn$;

-- BEFORE STATEMENT trigger of every audited table: notes when the statement started, per trigger
-- depth, so its changes sort before those of the statements its own row triggers run (which are
-- captured first, at the next depth). Schema-qualified throughout instead of a SET clause (a SET
-- clause costs on every statement). Stored as microseconds since the epoch.
-- First, capture of this relation's table that DDL earlier in this transaction left to regenerate
-- is regenerated now, before this statement's own capture runs (capture-deferred.ts). Only a
-- transaction that inserted into capture_pending can have a row there, and the backend counts its
-- own inserts (pg_stat_get_xact_tuples_inserted: this transaction's, plus earlier ones of the
-- session not yet flushed to the statistics, never fewer): a transaction without an xid (the first
-- statement of most) or without such an insert pays two function calls instead of a query (~10 µs
-- per statement, bench/src/tpcb-cost.ts). A session cannot lower the count; with track_counts off
-- (superuser only) nothing is counted, so the table is asked every time, and DDL run with it off
-- regenerates at once instead of leaving an uncounted row (capture-refresh.ts). The query is an IF of its
-- own: a condition with a subquery is no simple expression, so plpgsql would start an executor
-- for the whole condition on every statement, whatever its first terms say.
-- The setting is an assignment (a RETURN), not PERFORM: plpgsql evaluates it as a simple expression.
-- All of it is in capture_statement_note, one plain function shared by every captured table:
-- PL/pgSQL compiles a trigger function once per trigger, so each table's copy of this body set its
-- expressions up again in every transaction (about once per statement); the plain function's are
-- set up once per transaction (~12K instructions less per TPC-B transaction,
-- bench/src/capture-instructions.ts). It sets what the session could set itself and regenerates
-- only what its own transaction left pending, so any role may call it (writers do, through the trigger).
CREATE OR REPLACE FUNCTION @S.capture_statement_note(p_rel pg_catalog.oid) RETURNS pg_catalog.text
LANGUAGE plpgsql AS $fn$
BEGIN
  IF pg_catalog.pg_current_xact_id_if_assigned() IS NOT NULL
     AND (pg_catalog.pg_stat_get_xact_tuples_inserted(@RELLIT(capture_pending)::pg_catalog.regclass) OPERATOR(pg_catalog.>) 0
          OR pg_catalog.current_setting('track_counts') OPERATOR(pg_catalog.<>) 'on') THEN
    IF EXISTS (SELECT 1 FROM @S.capture_pending p WHERE p.xid OPERATOR(pg_catalog.=) pg_catalog.pg_current_xact_id_if_assigned()
                  AND p.relid OPERATOR(pg_catalog.=) p_rel) THEN
      PERFORM @S.capture_flush_pending(p_rel);
    END IF;
  END IF;
  RETURN pg_catalog.set_config(pg_catalog.concat('threadline.statement_at_', pg_catalog.pg_trigger_depth()),
    pg_catalog.concat((pg_catalog.extract('epoch', pg_catalog.clock_timestamp()) OPERATOR(pg_catalog.*) 1000000)::bigint), true);
END
$fn$;

-- Writers call it through the trigger (the trigger function itself needs no EXECUTE privilege; a
-- function it calls does): granted explicitly, so a database whose default privileges take EXECUTE
-- from PUBLIC does not make every captured write fail.
GRANT EXECUTE ON FUNCTION @S.capture_statement_note(pg_catalog.oid) TO PUBLIC;

CREATE OR REPLACE FUNCTION @S.capture_statement_start() RETURNS trigger
LANGUAGE plpgsql AS $fn$
DECLARE
  done pg_catalog.text;
BEGIN
  done := @S.capture_statement_note(TG_RELID);
  RETURN NULL;
END
$fn$;

-- captured_at of the current statement: its start as noted by capture_statement_start, kept within
-- the time span of the client statement running it (a session can write the setting, so it can
-- never place a change outside, nor before an earlier statement it sent: statement_timestamp() is
-- when the server received the current one, which no session can set; now() too: a procedure that
-- COMMITs runs later transactions inside the same client statement), else the current time.
-- Inside one client statement (a DO block, a function, a multi-statement query string) the setting
-- still decides the order. One plain SQL expression, VOLATILE
-- (it reads clock_timestamp()), so that the capture function inlines it: a call that is not inlined
-- is parsed and planned again in every transaction (fmgr_sql), ~20 µs per captured statement.
CREATE OR REPLACE FUNCTION @S.statement_started_at() RETURNS timestamptz
LANGUAGE sql VOLATILE AS $fn$
  SELECT CASE WHEN pg_catalog.length(pg_catalog.current_setting(pg_catalog.concat('threadline.statement_at_', pg_catalog.pg_trigger_depth()), true))
                   OPERATOR(pg_catalog.<=) 17  -- 1 to 17 digits (no regular expression: cheaper)
               AND pg_catalog.ltrim(pg_catalog.current_setting(pg_catalog.concat('threadline.statement_at_', pg_catalog.pg_trigger_depth()), true),
                   '0123456789') OPERATOR(pg_catalog.=) ''
               AND pg_catalog.current_setting(pg_catalog.concat('threadline.statement_at_', pg_catalog.pg_trigger_depth()), true)
                   OPERATOR(pg_catalog.<>) ''
    THEN GREATEST(pg_catalog.statement_timestamp(), pg_catalog.now(), LEAST(pg_catalog.clock_timestamp(),
           'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+)
           (pg_catalog.current_setting(pg_catalog.concat('threadline.statement_at_', pg_catalog.pg_trigger_depth()), true)::pg_catalog.int8
            OPERATOR(pg_catalog.*) '1 microsecond'::pg_catalog.interval)))
    ELSE pg_catalog.clock_timestamp() END
$fn$;

-- The same, for the capture functions this release generates: PL/pgSQL, on purpose not inlined.
-- PL/pgSQL sets every expression up again in each transaction, in each function that holds it, and
-- every capture function runs about once per transaction: inlined into each of them this expression
-- was set up once per captured table per transaction; here it is set up once per transaction and
-- shared by all of them (~32K instructions less per TPC-B transaction, four tables). It only reads
-- settings and the clock; schema-qualified throughout (no SET clause, which costs on every call).
CREATE OR REPLACE FUNCTION @S.capture_started_at() RETURNS pg_catalog.timestamptz
LANGUAGE plpgsql VOLATILE AS $fn$
DECLARE
  noted pg_catalog.text := pg_catalog.current_setting(pg_catalog.concat('threadline.statement_at_', pg_catalog.pg_trigger_depth()), true);
BEGIN
  RETURN CASE WHEN pg_catalog.length(noted) OPERATOR(pg_catalog.<=) 17 AND pg_catalog.ltrim(noted, '0123456789') OPERATOR(pg_catalog.=) ''
                   AND noted OPERATOR(pg_catalog.<>) ''
    THEN GREATEST(pg_catalog.statement_timestamp(), pg_catalog.now(), LEAST(pg_catalog.clock_timestamp(),
           'epoch'::pg_catalog.timestamptz OPERATOR(pg_catalog.+) (noted::pg_catalog.int8 OPERATOR(pg_catalog.*) '1 microsecond'::pg_catalog.interval)))
    ELSE pg_catalog.clock_timestamp() END;
END
$fn$;
REVOKE ALL ON FUNCTION @S.capture_started_at() FROM PUBLIC;
`;
