import { ID_RULE } from '../context/id-rule.js';

/**
 * record_action(), the function recordAction() calls: stores a semantic action, tied to the
 * current audit transaction on request. `@S` is the quoted storage schema.
 */
export const RECORD_ACTION_FUNCTION = String.raw`
-- Store a semantic action. With p_link it is tied to the current audit transaction
-- (created if the transaction has not captured a row yet). Any role may call it (definer), so the
-- actor is held to the rules current_transaction_id() applies to threadline.actor_ref: a known
-- type, only type and id, a clean id of 1..256 bytes (none for anonymous); and the correlation,
-- request and job ids to clean_context_id (stored trimmed); else 22023.
CREATE OR REPLACE FUNCTION @S.record_action(
  p_name text, p_actor_ref jsonb, p_status text, p_verb text, p_category text, p_reason text, p_comment text,
  p_correlation_id text, p_request_id text, p_job_id text, p_link boolean
) RETURNS TABLE (action_id uuid, transaction_id bigint)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  tx bigint;
  new_id uuid;
  new_row tid;
  kind text := CASE WHEN jsonb_typeof(p_actor_ref) = 'object' AND jsonb_typeof(p_actor_ref -> 'type') = 'string'
                    THEN p_actor_ref ->> 'type' END;
  id_value text := @S.clean_context_id(p_actor_ref -> 'id');
  actor jsonb;
  bad_ids text;
BEGIN
  IF kind IS NULL OR kind NOT IN ('user', 'admin', 'service_account', 'job', 'system', 'anonymous')
     OR p_actor_ref - 'type' - 'id' <> '{}'::jsonb THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'threadline: record_action needs an actor {"type": user|admin|service_account|job|system|anonymous, "id": ...} with no other keys';
  ELSIF kind = 'anonymous' THEN
    IF coalesce(p_actor_ref -> 'id', 'null'::jsonb) <> 'null'::jsonb THEN
      RAISE EXCEPTION USING ERRCODE = '22023', MESSAGE = 'threadline: record_action: an anonymous actor has no id';
    END IF;
    actor := '{"type": "anonymous"}'::jsonb;
  ELSIF id_value IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'threadline: record_action: the actor needs an id that is ${ID_RULE}';
  ELSE
    actor := jsonb_build_object('type', kind, 'id', id_value);
  END IF;
  SELECT string_agg(v.name, ', ') INTO bad_ids
    FROM (VALUES ('p_correlation_id', p_correlation_id), ('p_request_id', p_request_id), ('p_job_id', p_job_id)) v(name, value)
   WHERE v.value IS NOT NULL AND @S.clean_context_id(to_jsonb(v.value)) IS NULL;
  IF bad_ids IS NOT NULL THEN
    RAISE EXCEPTION USING ERRCODE = '22023',
      MESSAGE = 'threadline: record_action: ' || bad_ids || ' must be NULL or ${ID_RULE}';
  END IF;
  IF p_link THEN tx := @S.current_transaction_id(); END IF;
  INSERT INTO @S.audit_actions
    (name, actor_ref, status, verb, category, reason, comment, correlation_id, request_id, job_id, transaction_id)
  VALUES
    (p_name, actor, coalesce(p_status, 'ok'), p_verb, p_category, p_reason, p_comment,
     @S.clean_context_id(to_jsonb(p_correlation_id)), @S.clean_context_id(to_jsonb(p_request_id)),
     @S.clean_context_id(to_jsonb(p_job_id)), tx)
  RETURNING id INTO new_id;
  IF tx IS NOT NULL THEN
    UPDATE @S.audit_transactions t SET action_id = new_id WHERE t.id = tx AND t.action_id IS NULL RETURNING t.ctid INTO new_row;
    IF new_row IS NOT NULL THEN  -- the row has a new version: the fast path finds it there
      PERFORM set_config('threadline.transaction', txid_current()::text || ':' || tx::text || ':' || new_row::text, true);
    END IF;
  END IF;
  action_id := new_id;
  transaction_id := tx;
  RETURN NEXT;
END
$fn$;
`;
