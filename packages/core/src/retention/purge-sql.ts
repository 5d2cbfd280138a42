/**
 * The statements of a purge; `q` is the quoted storage schema. Every batch is one short
 * transaction that only touches rows older than the cutoff, which capture never writes: no lock a
 * purge takes can make a capturing write wait.
 */
export const purgeSql = (q: string) => ({
  /** Serialises purge batches (only purges take this key). Transaction-level: PgBouncer-safe. */
  lock: `SELECT pg_advisory_xact_lock(hashtext('threadline.retention:' || $1))`,

  /** The policy's cutoff, computed by the database clock. */
  policyCutoff: `SELECT (now() - make_interval(secs => $1))::timestamptz AS cutoff, now() AS now`,

  markAbandoned: `UPDATE ${q}.retention_runs SET status = 'abandoned', finished_at = now(),
      error = 'no progress since ' || to_char(heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ': its process stopped'
    WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1)
    RETURNING id`,

  running: `SELECT id, started_at, heartbeat_at FROM ${q}.retention_runs WHERE status = 'running' ORDER BY started_at LIMIT 1`,

  startRun: `INSERT INTO ${q}.retention_runs (status, cutoff, dry_run, actor_ref)
    VALUES ('running', $1, $2, $3::jsonb) RETURNING id::text AS id`,

  heartbeat: `UPDATE ${q}.retention_runs SET heartbeat_at = now(), batches = batches + $5,
      deleted_changes = deleted_changes + $2, deleted_transactions = deleted_transactions + $3, deleted_actions = deleted_actions + $4,
      dropped_partitions = dropped_partitions + $6
    WHERE id = $1 AND status = 'running' RETURNING id`,

  /** The run's archive summary (retention.archive); the column comes with install (schema 3+). */
  setArchive: `UPDATE ${q}.retention_runs SET archive = $2::jsonb WHERE id = $1`,

  finishRun: `UPDATE ${q}.retention_runs SET status = $2, finished_at = now(), heartbeat_at = now(), error = $3,
      deleted_changes = $4, deleted_transactions = $5, deleted_actions = $6, batches = $7, dropped_partitions = $8
    WHERE id = $1`,

  /** Partitions ahead of time (every real run; nothing is moved). */
  ensurePartitions: `SELECT ${q}.storage_ensure(false)`,

  /** Range partitions wholly older than the cutoff (every row in them is eligible), oldest first. */
  droppable: `SELECT format('%I.%I', n.nspname, c.relname) AS rel, c.relname::text AS name, c.reltuples
    FROM ${q}.storage_partitions() p JOIN pg_class c ON c.oid = p.relid JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT p.is_default AND p.hi <= $1 ORDER BY p.lo`,

  /** Tables a stopped run detached (renamed with the prefix $1) but did not drop, in schema $2. */
  detachedLeftovers: `SELECT format('%I.%I', n.nspname, c.relname) AS rel FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $2 AND c.relkind = 'r' AND NOT c.relispartition AND starts_with(c.relname, $1 || 'audit_changes_')
    ORDER BY c.relname`,

  /**
   * Detaching takes an ACCESS EXCLUSIVE lock on audit_changes for a moment (catalog change only):
   * never wait for it longer than this, so capture never queues behind a drop for longer; a drop
   * that cannot get the lock is retried, and its rows are otherwise purged by the batches.
   */
  dropLockTimeout: `SET LOCAL lock_timeout = '50ms'`,

  /**
   * Exactly what a complete run deletes. `changeless`: transactions the sweep phase finds, i.e.
   * with no change left once the partitions $3 are dropped (phase 1 takes the others).
   */
  count: `SELECT
      (SELECT count(*) FROM ${q}.audit_changes c WHERE c.captured_at < $1)::bigint AS changes,
      (SELECT count(*) FROM ${q}.audit_transactions t
        WHERE t.occurred_at < $1 AND NOT EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id AND c.captured_at >= $1)
          AND $2)::bigint AS transactions,
      (SELECT count(*) FROM ${q}.audit_actions x
        WHERE $2 AND x.id IN (
            SELECT a.id FROM ${q}.audit_transactions t JOIN ${q}.audit_actions a ON a.transaction_id = t.id
             WHERE t.occurred_at < $1 AND NOT EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id AND c.captured_at >= $1)
            UNION
            SELECT t.action_id FROM ${q}.audit_transactions t
             WHERE t.action_id IS NOT NULL AND t.occurred_at < $1
               AND NOT EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id AND c.captured_at >= $1))
          AND NOT EXISTS (SELECT 1 FROM ${q}.audit_transactions t WHERE t.action_id = x.id
                 AND (t.occurred_at >= $1 OR EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id AND c.captured_at >= $1)))
          AND NOT EXISTS (SELECT 1 FROM ${q}.audit_transactions t WHERE t.id = x.transaction_id
                 AND (t.occurred_at >= $1 OR EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id AND c.captured_at >= $1)))
      )::bigint AS actions,
      (SELECT count(*) FROM ${q}.audit_transactions t
        WHERE $2 AND t.occurred_at < $1 AND NOT EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id
                                                          AND c.tableoid <> ALL($3::regclass[]::oid[])))::bigint AS changeless,
      (SELECT count(*) FROM ${q}.audit_actions a WHERE a.transaction_id IS NULL AND a.inserted_at < $1)::bigint AS standalone`,

  /**
   * Phase 3: actions recorded outside any transaction (recordAction with no bound transaction),
   * older than the cutoff. No audit transaction links to them (record_action links only actions
   * recorded inside one), so they go by age alone, oldest first off (inserted_at, id).
   */
  deleteStandaloneActions: `WITH doomed AS (
      SELECT id FROM ${q}.audit_actions WHERE transaction_id IS NULL AND inserted_at < $1 ORDER BY inserted_at, id LIMIT $2
    ), gone AS (DELETE FROM ${q}.audit_actions a USING doomed d WHERE a.id = d.id RETURNING 1)
    SELECT count(*)::int AS n FROM gone`,

  /** Phase 1: the oldest changes (primary-key order), and the transactions that this left empty. */
  deleteChanges: `WITH doomed AS (
      SELECT captured_at, id FROM ${q}.audit_changes WHERE captured_at < $1 ORDER BY captured_at, id LIMIT $2
    ), gone AS (
      DELETE FROM ${q}.audit_changes c USING doomed d WHERE c.captured_at = d.captured_at AND c.id = d.id
      RETURNING c.transaction_id, c.captured_at
    )
    SELECT count(*)::int AS n, coalesce(array_agg(DISTINCT transaction_id), '{}')::bigint[] AS txs,
      ${q}.activity_forget(min(captured_at), max(captured_at))::text AS forgot FROM gone`,

  /** Delete the given transactions when they have no change left, with the actions linked only to them. */
  deleteEmpty: `WITH gone AS (
      DELETE FROM ${q}.audit_transactions t
       WHERE t.id = ANY($1::bigint[]) AND t.occurred_at < $2
         AND NOT EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id)
      RETURNING t.id, t.action_id
    ), cand AS (
      -- Each link through its own index (an OR of the two would scan audit_actions).
      SELECT a.id FROM gone g JOIN ${q}.audit_actions a ON a.transaction_id = g.id
      UNION
      SELECT g.action_id FROM gone g WHERE g.action_id IS NOT NULL
    ), acts AS (
      -- audit_transactions still shows the rows of gone here (one snapshot for the statement).
      DELETE FROM ${q}.audit_actions a USING cand k
       WHERE a.id = k.id
         AND NOT EXISTS (SELECT 1 FROM ${q}.audit_transactions t2
                          WHERE t2.action_id = a.id AND NOT EXISTS (SELECT 1 FROM gone g2 WHERE g2.id = t2.id))
         AND NOT EXISTS (SELECT 1 FROM ${q}.audit_transactions t3
                          WHERE t3.id = a.transaction_id AND NOT EXISTS (SELECT 1 FROM gone g3 WHERE g3.id = t3.id))
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone)::int AS transactions, (SELECT count(*) FROM acts)::int AS actions`,

  /** Phase 2: transactions that never had a change (or lost them earlier), in keyset order. */
  emptySweep: `SELECT t.id, t.occurred_at::text AS at FROM ${q}.audit_transactions t
    WHERE t.occurred_at < $1 AND (t.occurred_at, t.id) > ($2::timestamptz, $3::bigint)
      AND NOT EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id)
    ORDER BY t.occurred_at, t.id LIMIT $4`,

  runs: `SELECT id::text AS id, started_at, finished_at, status, cutoff, dry_run, deleted_changes::text AS deleted_changes,
      deleted_transactions::text AS deleted_transactions, deleted_actions::text AS deleted_actions, dropped_partitions,
      batches, error, actor_ref, to_jsonb(r)->'archive' AS archive
    FROM ${q}.retention_runs r ORDER BY started_at DESC, id DESC LIMIT $1`,
});
