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

/**
 * Rows a purge with cutoff $1 would have removed that are still there: none once that purge (or a
 * later one) finished its work. Changes go by captured_at; transactions by occurred_at when no
 * change is left at or after the cutoff (exactly what a complete run deletes, purge-sql.ts).
 */
const purgeLeftSql = (q: string) => `SELECT
    EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.captured_at < $1::timestamptz) AS changes,
    EXISTS (SELECT 1 FROM ${q}.audit_transactions t WHERE t.occurred_at < $1::timestamptz
      AND NOT EXISTS (SELECT 1 FROM ${q}.audit_changes c WHERE c.transaction_id = t.id AND c.captured_at >= $1::timestamptz)) AS transactions`;

/** Of the given transaction ids, those some remaining change still references. */
const referencedSql = (q: string) => `SELECT DISTINCT c.transaction_id::text AS id
  FROM ${q}.audit_changes c WHERE c.transaction_id = ANY($1::bigint[])`;

/** Per verify: whether a purge link's work is finished, by relation (memoised by link id). */
export type PurgeFinished = Map<string, Promise<Record<SealedRelation, boolean>>>;

function purgeFinished(
  client: SqlClient,
  q: string,
  purge: StoredLink,
  cache: PurgeFinished,
): Promise<Record<SealedRelation, boolean>> {
  let known = cache.get(purge.id);
  if (!known) {
    known = client
      .query<{ changes: boolean; transactions: boolean }>(purgeLeftSql(q), [purge.cutoff])
      .then(({ rows }) => ({ audit_changes: !rows[0]!.changes, audit_transactions: !rows[0]!.transactions }));
    cache.set(purge.id, known);
  }
  return known;
}

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
 * A purge link accepts the removal of a row older than its cutoff, whether it was appended before
 * or after the row's seal (a run appends its link once, before its first batch, and a seal may
 * run between two of its batches, sealing rows the next batch deletes), but only once nothing that
 * purge would delete is left (a run that stopped early, failed or was abandoned covers nothing
 * until a run finishes the work), and a transaction only when no remaining change references it
 * (retention never deletes a transaction that still has a change). Only the owner appends purge
 * links (under the chain lock, in the chain: a forged or edited one breaks it), so a row newer
 * than every purge cutoff that is gone is still reported as removed.
 */
export async function diagnoseLink(
  client: SqlClient,
  q: string,
  link: StoredLink,
  purges: readonly StoredLink[],
  finished: PurgeFinished = new Map(),
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
  // A transaction some remaining change still references was not purged (retention keeps it).
  const referenced = new Set<string>();
  if (relation === 'audit_transactions' && sealed.size > 0) {
    const r = await client.query<{ id: string }>(referencedSql(q), [[...sealed.keys()]]);
    for (const row of r.rows) referenced.add(row.id);
  }
  const complete = new Set<string>();
  if (sealed.size > 0)
    for (const p of purges)
      if (p.cutoff !== null && (await purgeFinished(client, q, p, finished))[relation]) complete.add(p.id);
  // Why a purge whose cutoff is after the row does not account for its removal.
  const why = (id: string, older: StoredLink[]) =>
    referenced.has(id)
      ? ' (a remaining change still references it: retention never removes such a transaction)'
      : older.length > 0
        ? ` (purge runs ${older.map((p) => p.retentionRunId).join(', ')} left rows older than their cutoff: they did not finish, so they account for nothing)`
        : '';
  for (const [id, was] of sealed) {
    const named = describe(relation, was.label);
    // Both are integrity_time() text (fixed-width UTC with microseconds): they compare as strings.
    const at = named.at;
    const older = (p: StoredLink) => p.cutoff !== null && at !== undefined && at < p.cutoff;
    const covers = (p: StoredLink) => older(p) && complete.has(p.id) && !referenced.has(id);
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
        message: `${relation} row ${id} sealed by seal #${link.id} is gone${why(id, purges.filter(older))}`,
      });
    }
  }
  return findings.sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : BigInt(a.id) > BigInt(b.id) ? 1 : 0));
}
