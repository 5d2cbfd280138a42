import type { SqlClient } from '../db/sql-client.js';
import type { IntegrityFinding, SealedRelation } from './types.js';

/** One chain link as stored, with what verify recomputed from it. */
export interface StoredLink {
  id: string;
  kind: 'range' | 'purge';
  relation: SealedRelation | null;
  from: string | null;
  to: string | null;
  rowCount: number;
  rowsHash: string | null;
  minAt: string | null;
  maxAt: string | null;
  retentionRunId: string | null;
  cutoff: string | null;
  prevHash: string | null;
  hash: string;
  /** Which serialization of audit rows the link hashed (integrity_rows' version; 1 before table ids were covered). */
  digestVersion: number;
  /** sha256 over the link's fields as they are now. */
  recomputed: string;
  /** False when the stored digests or labels no longer hash to what the link says (checked for selected links). */
  contentsIntact: boolean;
  /** In the verify window (from/to). */
  selected: boolean;
}

const linksSql = (
  q: string,
) => `SELECT s.id::text AS id, s.kind, s.relation, s.range_from::text AS "from", s.range_to::text AS "to",
    s.row_count::int AS "rowCount", encode(s.rows_hash, 'hex') AS "rowsHash",
    ${q}.integrity_time(s.min_at) AS "minAt", ${q}.integrity_time(s.max_at) AS "maxAt",
    s.retention_run_id::text AS "retentionRunId", ${q}.integrity_time(s.cutoff) AS cutoff,
    encode(s.prev_hash, 'hex') AS "prevHash", encode(s.hash, 'hex') AS hash, s.digest_version::int AS "digestVersion",
    encode(sha256(convert_to(${q}.integrity_link_text(s), 'UTF8')), 'hex') AS recomputed,
    sel.selected,
    CASE WHEN s.kind <> 'range' OR NOT sel.selected THEN true
         ELSE sha256(coalesce(s.digests, ''::bytea)) = s.rows_hash
              AND sha256(convert_to(coalesce(s.labels, ''), 'UTF8')) = s.labels_hash
              AND coalesce(octet_length(s.digests), 0) = 24 * s.row_count END AS "contentsIntact"
  FROM ${q}.integrity_seals s,
       LATERAL (SELECT s.kind = 'purge' OR s.min_at IS NULL
                   OR (($1::timestamptz IS NULL OR s.max_at >= $1) AND ($2::timestamptz IS NULL OR s.min_at < $2)) AS selected) sel
 ORDER BY s.id`;

/** A chain head an earlier verification recorded (its seal id and hash). */
export interface SeenHead {
  id: string;
  hash: string | null;
}

/**
 * Read every link and check the chain: each link's hash, its predecessor, contiguous ranges, and
 * that every head an earlier verification saw is still there with the same hash (removing the
 * newest seals and sealing again builds a consistent chain that only this notices).
 */
export async function checkChain(
  client: SqlClient,
  q: string,
  from: string | null,
  to: string | null,
  seenHeads: SeenHead[],
): Promise<{ links: StoredLink[]; findings: IntegrityFinding[] }> {
  const { rows } = await client.query<StoredLink>(linksSql(q), [from, to]);
  const findings: IntegrityFinding[] = [];
  const seal = (kind: IntegrityFinding['kind'], id: string, message: string) =>
    findings.push({ kind, relation: 'integrity_seals', id, sealId: id, message });
  const lastTo: Record<string, string> = {};
  let previous: StoredLink | null = null;
  for (const link of rows) {
    if (link.recomputed !== link.hash || !link.contentsIntact) {
      seal(
        'seal_altered',
        link.id,
        `seal #${link.id} was changed after it was written (its hash no longer matches its contents)`,
      );
    }
    const expectedPrev = previous ? previous.hash : null;
    if (link.prevHash !== expectedPrev) {
      seal(
        'chain_broken',
        link.id,
        previous
          ? `seal #${link.id} does not follow seal #${previous.id}: a seal between them was removed or one of them altered`
          : `seal #${link.id} is the first seal left but follows another: the seals before it were removed`,
      );
    }
    if (link.kind === 'range' && link.relation) {
      const expectedFrom = lastTo[link.relation] ?? '0';
      if (link.from !== expectedFrom) {
        seal(
          'seal_removed',
          link.id,
          `the seal of ${link.relation} ids after ${expectedFrom} up to ${link.from} is missing (seal #${link.id} starts after ${link.from})`,
        );
      }
      if (link.to !== null) lastTo[link.relation] = link.to;
    }
    previous = link;
  }
  const byId = new Map(rows.map((l) => [l.id, l]));
  const checked = new Set<string>();
  for (const seen of seenHeads) {
    if (checked.has(seen.id)) continue;
    checked.add(seen.id);
    const link = byId.get(seen.id);
    if (!link) {
      const last: StoredLink | null = previous;
      seal(
        'seal_removed',
        seen.id,
        last === null || BigInt(last.id) < BigInt(seen.id)
          ? `an earlier verification saw the chain reach seal #${seen.id}; it now ends at ${last ? `#${last.id}` : 'nothing'}: the newest seals were removed`
          : `seal #${seen.id}, the chain head an earlier verification saw, is gone and the chain was extended past it: seals were removed and the chain sealed again`,
      );
    } else if (seen.hash !== null && link.hash !== seen.hash) {
      seal(
        'seal_altered',
        seen.id,
        `seal #${seen.id} no longer has the hash an earlier verification recorded for it as the chain head: the chain was rewritten`,
      );
    }
  }
  return { links: rows, findings };
}
