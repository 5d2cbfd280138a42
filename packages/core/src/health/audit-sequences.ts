import type { OperationsContext } from '../context/operations-context.js';
import { toThreadlineError } from '../db/db-errors.js';
import type { Finding } from './types.js';

/** An audit id sequence that hands a session more than one id at a time. */
export interface CachedAuditSequence {
  table: 'audit_changes' | 'audit_transactions';
  /** The sequence, as SQL (schema-qualified, quoted where needed). */
  sequence: string;
  cache: number;
}

/**
 * The audit tables' id sequences with a CACHE above 1 (install sets 1): a seal's watermark would
 * read the end of one session's cached block, so integrity.seal refuses to run (integrity/seal.ts).
 */
export async function readCachedAuditSequences(
  ctx: OperationsContext,
  what: string,
): Promise<CachedAuditSequence[]> {
  try {
    const { rows } = await ctx.client.query<CachedAuditSequence>(
      // pg_get_serial_sequence of NULL (a table not there: an install from before the tables) is NULL.
      `SELECT t AS "table", s.seqrelid::regclass::text AS sequence, s.seqcache::int AS cache
         FROM unnest(ARRAY['audit_changes', 'audit_transactions']) t
         JOIN pg_sequence s ON s.seqrelid = pg_get_serial_sequence(
                CASE WHEN to_regclass(format('%I.%I', $1::text, t)) IS NOT NULL THEN format('%I.%I', $1::text, t) END,
                'id')::regclass
        WHERE s.seqcache > 1
        ORDER BY 1`,
      [ctx.schema],
    );
    return rows;
  } catch (error) {
    throw toThreadlineError(error, what);
  }
}

export function sequenceCacheFinding(storage: string, s: CachedAuditSequence): Finding {
  return {
    code: 'audit_sequence_cache',
    severity: 'warning',
    schema: storage,
    table: s.table,
    message: `${s.sequence} caches ${s.cache} ids per session: ids are not handed out in order, so integrity.seal refuses to run until it caches 1`,
    fix: `ALTER SEQUENCE ${s.sequence} CACHE 1;`,
  };
}
