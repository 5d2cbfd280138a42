/**
 * Retention bookkeeping. `@S` is the quoted storage schema. One row per purge run (dry runs too);
 * `heartbeat_at` moves with every batch, so a run whose process died is recognised by the next
 * run (no heartbeat for longer than the abandon threshold) and marked `abandoned`.
 */
export const RETENTION_DDL = String.raw`
CREATE TABLE IF NOT EXISTS @S.retention_runs (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  status text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'abandoned')),
  cutoff timestamptz NOT NULL,
  dry_run boolean NOT NULL,
  deleted_changes bigint NOT NULL DEFAULT 0,
  deleted_transactions bigint NOT NULL DEFAULT 0,
  deleted_actions bigint NOT NULL DEFAULT 0,
  dropped_partitions integer NOT NULL DEFAULT 0,
  batches integer NOT NULL DEFAULT 0,
  error text,
  actor_ref jsonb
);
-- What retention.archive wrote in this run: { target, parts, rows, firstFile, lastFile }.
ALTER TABLE @S.retention_runs ADD COLUMN IF NOT EXISTS archive jsonb;
DO $do$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = @LIT AND indexname = 'retention_runs_running_idx') THEN
    CREATE INDEX retention_runs_running_idx ON @S.retention_runs (started_at) WHERE status = 'running';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_indexes WHERE schemaname = @LIT AND indexname = 'audit_transactions_occurred_idx') THEN
    -- Retention finds old transactions by time; also serves time windows on transactions.
    CREATE INDEX audit_transactions_occurred_idx ON @S.audit_transactions (occurred_at, id);
  END IF;
END
$do$;
`;
