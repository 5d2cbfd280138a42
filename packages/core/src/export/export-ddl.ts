/**
 * Background export jobs (SPEC section 11). `@S` is replaced by the quoted storage schema.
 * - export_jobs_status_idx: cleanup finds expired and abandoned jobs without a scan.
 * - export_jobs_requester_idx: an actor lists their own exports.
 * heartbeat_at is touched by the runner while it streams; a running job whose heartbeat is
 * stale belongs to a process that died and is marked failed by cleanup.
 */
export const EXPORT_DDL = `
CREATE TABLE IF NOT EXISTS @S.export_jobs (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  status text NOT NULL DEFAULT 'pending'
    CHECK (status IN ('pending', 'running', 'completed', 'failed', 'expired')),
  filters jsonb NOT NULL,
  format text NOT NULL CHECK (format IN ('csv', 'json', 'ndjson')),
  formula_guard boolean NOT NULL DEFAULT true,
  requested_by jsonb NOT NULL,
  row_count bigint,
  bytes bigint,
  file_ref text,
  error text,
  created_at timestamptz NOT NULL DEFAULT now(),
  started_at timestamptz,
  heartbeat_at timestamptz,
  finished_at timestamptz,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS export_jobs_status_idx ON @S.export_jobs (status, expires_at);
CREATE INDEX IF NOT EXISTS export_jobs_requester_idx ON @S.export_jobs (requested_by, created_at);
`;
