/** The row serialization new range links are sealed with (integrity_rows' version, integrity-ddl.ts). */
const DIGEST_VERSION = 2;

/** The statements of seal and verify; `q` is the quoted storage schema. */
export const integritySql = (q: string) => ({
  /** Serialises chain appends (seal links and retention's purge links); transaction-level, PgBouncer-safe. */
  lock: `SELECT pg_advisory_xact_lock(hashtext('threadline.integrity:' || $1))`,

  /**
   * Upper bounds of every id allocated so far ($1, $2: the two tables' qualified names). Read in
   * its own statement BEFORE the watermark's snapshot is taken.
   */
  sequenceBounds: `SELECT coalesce(pg_sequence_last_value(pg_get_serial_sequence($1, 'id')::regclass), 0)::text AS changes,
      coalesce(pg_sequence_last_value(pg_get_serial_sequence($2, 'id')::regclass), 0)::text AS transactions`,

  /** How many ids each id sequence hands a session at a time ($1, $2 as for sequenceBounds). */
  sequenceCache: `SELECT s.seqrelid::regclass::text AS sequence, s.seqcache::int AS cache
      FROM pg_sequence s WHERE s.seqrelid IN (pg_get_serial_sequence($1, 'id')::regclass, pg_get_serial_sequence($2, 'id')::regclass)
     ORDER BY 1`,

  recordWatermark: `INSERT INTO ${q}.integrity_watermarks (changes_last, transactions_last, snap)
    VALUES ($1, $2, pg_current_snapshot()) RETURNING id::text AS id`,

  /** The newest watermark below whose xid bound no transaction is still in progress. */
  settledWatermark: `WITH running AS (SELECT min(x) AS oldest FROM ${q}.integrity_running_xids() x)
    SELECT w.id::text AS id, w.changes_last::text AS changes, w.transactions_last::text AS transactions
      FROM ${q}.integrity_watermarks w, running r
     WHERE r.oldest IS NULL OR r.oldest >= w.xid_bound
     ORDER BY w.id DESC LIMIT 1`,

  /** How many transactions that may hold ids below the given watermark are still open. */
  openOf: `SELECT count(*)::int AS n FROM ${q}.integrity_watermarks w, ${q}.integrity_running_xids() x
     WHERE w.id = $1 AND x < w.xid_bound`,

  forgetWatermarks: `DELETE FROM ${q}.integrity_watermarks WHERE id <= $1`,

  sealedThrough: `SELECT coalesce(max(range_to), 0)::text AS through FROM ${q}.integrity_seals
     WHERE kind = 'range' AND relation = $1`,

  anyRows: `SELECT min(id)::text AS first FROM ${q}.integrity_rows($1, $2, $3, 1)`,

  /**
   * The first change in ids ($1, $2] still without a table id (written before table ids, not
   * keyed yet by storage maintain): the key backfill will set its table_id and key_hash, which
   * the current digest covers, so a seal stops before it. Through the partial legacy index while it
   * exists, else the NULL range of the compact (table_id, ...) index (storage/legacy-indexes.ts).
   */
  firstUnkeyed: `SELECT min(c.id)::text AS first FROM ${q}.audit_changes c
     WHERE c.table_id IS NULL AND c.id > $1 AND c.id <= $2`,

  /** Append one range link ($1 relation, ids in ($2, $3]); hashed by `hashLink`. */
  appendRange: `WITH r AS (SELECT * FROM ${q}.integrity_rows($1, $2, $3, ${DIGEST_VERSION})),
      agg AS (SELECT count(*) AS n,
                     string_agg(int8send(r.id) || r.digest, ''::bytea ORDER BY r.id) AS d,
                     string_agg(r.label, E'\n' ORDER BY r.id) AS l, min(r.at) AS mi, max(r.at) AS ma FROM r)
    INSERT INTO ${q}.integrity_seals (kind, relation, range_from, range_to, row_count, rows_hash, labels_hash,
        digests, labels, min_at, max_at, prev_hash, hash, digest_version)
    SELECT 'range', $1, $2, $3, agg.n, sha256(coalesce(agg.d, ''::bytea)), sha256(convert_to(coalesce(agg.l, ''), 'UTF8')),
        agg.d, agg.l, agg.mi, agg.ma, (SELECT s.hash FROM ${q}.integrity_seals s ORDER BY s.id DESC LIMIT 1), ''::bytea,
        ${DIGEST_VERSION}
      FROM agg
    RETURNING id::text AS id, row_count::int AS n`,

  /** Append a purge link: retention run $1 is about to remove rows older than $2. */
  appendPurge: `INSERT INTO ${q}.integrity_seals (kind, retention_run_id, cutoff, prev_hash, hash)
    VALUES ('purge', $1, $2, (SELECT s.hash FROM ${q}.integrity_seals s ORDER BY s.id DESC LIMIT 1), ''::bytea)
    RETURNING id::text AS id`,

  hashLink: `UPDATE ${q}.integrity_seals s SET hash = sha256(convert_to(${q}.integrity_link_text(s), 'UTF8'))
     WHERE s.id = $1 RETURNING encode(s.hash, 'hex') AS hash`,

  head: `SELECT id::text AS id, encode(hash, 'hex') AS hash, sealed_at FROM ${q}.integrity_seals ORDER BY id DESC LIMIT 1`,
});
