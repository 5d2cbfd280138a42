import type { SqlClient } from '../db/sql-client.js';
import type { StoredLink } from './chain-check.js';
import type { IntegrityFinding, SealedRelation } from './types.js';

const recomputeSql = (q: string) => `SELECT count(*)::int AS n,
    encode(sha256(coalesce(string_agg(int8send(r.id) || r.digest, ''::bytea ORDER BY r.id), ''::bytea)), 'hex') AS hash
  FROM ${q}.integrity_rows($1, $2, $3, $4) r`;

const currentRowsSql = (q: string) => `SELECT r.id::text AS id, encode(r.digest, 'hex') AS digest, r.label
  FROM ${q}.integrity_rows($1, $2, $3, $4) r ORDER BY r.id`;

const storedRowsSql = (q: string) =>
  `SELECT encode(digests, 'hex') AS digests, labels FROM ${q}.integrity_seals WHERE id = $1`;

interface RowState {
  digest: string;
  label: string;
}

/** What a label names: [schema, table, pk, at] for a change, [at] for a transaction. */
function describe(
  relation: SealedRelation,
  label: string | undefined,
): Pick<IntegrityFinding, 'table' | 'pk' | 'at'> {
  if (!label) return {};
  try {
    const parts = JSON.parse(label) as unknown[];
    if (relation === 'audit_changes' && parts.length === 4) {
      return { table: `${String(parts[0])}.${String(parts[1])}`, pk: parts[2], at: String(parts[3]) };
    }
    return { at: String(parts[0]) };
  } catch {
    return {};
  }
}

/** True when a link's rows still hash to what it sealed (the fast path: one aggregate in SQL). */
export async function rowsIntact(
  client: SqlClient,
  q: string,
  link: StoredLink,
): Promise<{ ok: boolean; rows: number }> {
  const { rows } = await client.query<{ n: number; hash: string }>(recomputeSql(q), [
    link.relation,
    link.from,
    link.to,
    link.digestVersion,
  ]);
  return { ok: rows[0]!.hash === link.rowsHash, rows: Number(rows[0]!.n) };
}

/**
 * Name every row of a link that differs from what was sealed: altered (same id, other digest),
 * inserted (an id the seal did not hold), removed (an id the seal held), or purged (removed, and
 * the cutoff of a purge link is after the row's time: retention took it).
 *
 * Any purge link in the chain accepts the removal of a row older than its cutoff, whether it was
 * appended before or after the row's seal: a run appends its link once, before its first batch,
 * and a seal may run between two of its batches (sealing rows the next batch deletes). Only the
 * owner appends purge links (under the chain lock, in the chain: a forged or edited one breaks
 * it), and a cutoff is never newer than the retention policy allowed when the run started, so a
 * row newer than every purge cutoff that is gone is still reported as removed.
 */
export async function diagnoseLink(
  client: SqlClient,
  q: string,
  link: StoredLink,
  purges: readonly StoredLink[],
): Promise<IntegrityFinding[]> {
  const relation = link.relation as SealedRelation;
  const stored = await client.query<{ digests: string | null; labels: string | null }>(storedRowsSql(q), [
    link.id,
  ]);
  const hex = stored.rows[0]?.digests ?? '';
  const labels = (stored.rows[0]?.labels ?? '').split('\n');
  const sealed = new Map<string, RowState>();
  for (let i = 0, k = 0; i + 48 <= hex.length; i += 48, k++) {
    sealed.set(BigInt(`0x${hex.slice(i, i + 16)}`).toString(), {
      digest: hex.slice(i + 16, i + 48),
      label: labels[k] ?? '',
    });
  }
  const current = await client.query<{ id: string; digest: string; label: string }>(currentRowsSql(q), [
    relation,
    link.from,
    link.to,
    link.digestVersion,
  ]);
  const findings: IntegrityFinding[] = [];
  const base = { relation, sealId: link.id };
  for (const row of current.rows) {
    const was = sealed.get(row.id);
    if (!was) {
      findings.push({
        kind: 'inserted',
        id: row.id,
        ...base,
        ...describe(relation, row.label),
        message: `${relation} row ${row.id} was not there when seal #${link.id} sealed ids ${link.from}..${link.to}`,
      });
    } else if (was.digest !== row.digest) {
      findings.push({
        kind: 'altered',
        id: row.id,
        ...base,
        ...describe(relation, was.label),
        message: `${relation} row ${row.id} was changed after seal #${link.id}`,
      });
    }
    sealed.delete(row.id);
  }
  for (const [id, was] of sealed) {
    const named = describe(relation, was.label);
    // Both are integrity_time() text (fixed-width UTC with microseconds): they compare as strings.
    const at = named.at;
    const covers = (p: StoredLink) => p.cutoff !== null && at !== undefined && at < p.cutoff;
    // The run named: the first one after the seal, else the newest before it (the seal ran
    // between two of that run's batches).
    const purge =
      purges.find((p) => BigInt(p.id) > BigInt(link.id) && covers(p)) ??
      [...purges].reverse().find((p) => BigInt(p.id) < BigInt(link.id) && covers(p));
    if (purge) {
      findings.push({
        kind: 'purged',
        id,
        ...base,
        ...named,
        retentionRunId: purge.retentionRunId ?? undefined,
        message: `${relation} row ${id} was purged by retention run ${purge.retentionRunId} (cutoff ${purge.cutoff})`,
      });
    } else {
      findings.push({
        kind: 'removed',
        id,
        ...base,
        ...named,
        message: `${relation} row ${id} sealed by seal #${link.id} is gone`,
      });
    }
  }
  return findings.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
}
