import { toThreadlineError } from '../db/db-errors.js';
import type { ReadRouting } from '../db/read-routing.js';

/** How far behind the primary `readDb` is (`tl.health.readReplica()`, and in coverage reports). */
export interface ReadReplicaStatus {
  /** A `readDb` other than `db` is configured. When false every other field is null. */
  configured: boolean;
  /**
   * readDb is a standby replaying the primary's WAL (`pg_is_in_recovery()`). False: reads go to a
   * server that is not a replica (allowed, e.g. a logical copy; lag is then not measured here).
   */
  inRecovery: boolean | null;
  /** WAL the primary had written when checked that readDb has not replayed yet, in bytes (0: caught up). */
  lagBytes: number | null;
  /**
   * 0 when caught up; else the age of the last transaction readDb replayed
   * (`now() - pg_last_xact_replay_timestamp()`): how old the newest data a read can see may be.
   * Null when the replica has replayed no transaction since it started.
   */
  lagSeconds: number | null;
  /** Replay was paused on the replica (`pg_wal_replay_pause()`): it will not catch up by itself. */
  replayPaused: boolean | null;
  checkedAt: string;
}

interface ReplicaRow {
  recovery: boolean;
  lag_bytes: string | null;
  since_replay: string | null;
  paused: boolean | null;
}

/**
 * The primary's WAL insert position (every committed transaction is before it, even one whose
 * commit record is not flushed yet under synchronous_commit = off), then how much of it the replica has replayed: two
 * statements, one on each server, in that order (so a write between them never shows as
 * negative lag).
 */
export async function readReplicaStatus(routing: ReadRouting, what: string): Promise<ReadReplicaStatus> {
  const checkedAt = new Date().toISOString();
  if (!routing.separate)
    return {
      configured: false,
      inRecovery: null,
      lagBytes: null,
      lagSeconds: null,
      replayPaused: null,
      checkedAt,
    };
  try {
    const primary = await routing.primary.query<{ lsn: string | null }>(
      'SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_insert_lsn()::text END AS lsn',
    );
    const lsn = primary.rows[0]?.lsn ?? null;
    const { rows } = await routing.replica.query<ReplicaRow>(
      `SELECT r.recovery,
              CASE WHEN r.recovery AND $1::text IS NOT NULL
                   THEN greatest(pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_replay_lsn()), 0)::text END AS lag_bytes,
              CASE WHEN r.recovery THEN extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::text END AS since_replay,
              CASE WHEN r.recovery THEN pg_is_wal_replay_paused() END AS paused
         FROM (SELECT pg_is_in_recovery() AS recovery) r`,
      [lsn],
    );
    const row = rows[0]!;
    const lagBytes = row.lag_bytes === null ? null : Number(row.lag_bytes);
    const since = row.since_replay === null ? null : Math.max(0, Number(row.since_replay));
    return {
      configured: true,
      inRecovery: row.recovery,
      lagBytes,
      lagSeconds: lagBytes === 0 ? 0 : row.recovery ? since : null,
      replayPaused: row.paused,
      checkedAt,
    };
  } catch (error) {
    throw toThreadlineError(error, what);
  }
}
