import { ThreadlineError } from '../errors.js';
import { checkKeys, parseInstant } from '../query/validate.js';
import { checkChain } from './chain-check.js';
import { diagnoseLink, type PurgeFinished, rowsIntact } from './rows-check.js';
import type { IntegrityContext } from './seal.js';
import type {
  IntegrityFinding,
  IntegrityFindingKind,
  IntegrityVerifyOptions,
  IntegrityVerifyResult,
  SealedRelation,
} from './types.js';

const WHERE = 'integrity.verify';
const KINDS: readonly IntegrityFindingKind[] = [
  'altered',
  'inserted',
  'removed',
  'purged',
  'seal_altered',
  'seal_removed',
  'chain_broken',
];

function maxFindings(value: unknown): number {
  if (value === undefined) return 1000;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 100_000) {
    throw new ThreadlineError(
      'QUERY_INVALID',
      `${WHERE}: maxFindings must be a whole number from 1 to 100000`,
    );
  }
  return value;
}

const verificationSql = (q: string) => ({
  start: `INSERT INTO ${q}.integrity_verifications (status, range_from, range_to) VALUES ('running', $1, $2)
    RETURNING id::text AS id, started_at`,
  // The furthest head any finished verification saw, and the head the last clean one saw.
  seenHeads: `(SELECT head_seal_id::text AS id, summary->>'headHash' AS hash FROM ${q}.integrity_verifications
      WHERE status IN ('ok', 'failed') AND head_seal_id IS NOT NULL ORDER BY head_seal_id DESC, id DESC LIMIT 1)
    UNION ALL
    (SELECT head_seal_id::text, summary->>'headHash' FROM ${q}.integrity_verifications
      WHERE status = 'ok' AND head_seal_id IS NOT NULL ORDER BY id DESC LIMIT 1)`,
  finish: `UPDATE ${q}.integrity_verifications SET status = $2, finished_at = clock_timestamp(), seals_checked = $3,
      rows_checked = $4, findings = $5, summary = $6::jsonb, head_seal_id = $7, error = $8 WHERE id = $1`,
  unsealed: `SELECT
      (SELECT count(*) FROM ${q}.audit_changes WHERE id > $1)::int AS changes,
      (SELECT count(*) FROM ${q}.audit_transactions WHERE id > $2)::int AS transactions`,
});

/** tl.integrity.verify(): recompute the chain and every sealed range in the window; record the outcome. */
export async function verify(
  ctx: IntegrityContext,
  options: IntegrityVerifyOptions = {},
): Promise<IntegrityVerifyResult> {
  options = checkKeys(options, ['from', 'to', 'maxFindings'], `${WHERE} options`) as IntegrityVerifyOptions;
  const from = options.from === undefined ? null : parseInstant(options.from, `${WHERE}: from`);
  const to = options.to === undefined ? null : parseInstant(options.to, `${WHERE}: to`);
  if (from !== null && to !== null && Date.parse(from) > Date.parse(to)) {
    throw new ThreadlineError(
      'QUERY_INVALID',
      `${WHERE}: from (${from}) is after to (${to}); give the earlier instant as from`,
    );
  }
  const cap = maxFindings(options.maxFindings);
  await ctx.assertInstalled(WHERE);
  const sql = verificationSql(ctx.q);
  const started = await ctx.client.query<{ id: string; started_at: Date }>(sql.start, [from, to]);
  const verificationId = started.rows[0]!.id;
  try {
    const seen = await ctx.client.query<{ id: string; hash: string | null }>(sql.seenHeads);
    const chain = await checkChain(ctx.client, ctx.q, from, to, seen.rows);
    const findings: IntegrityFinding[] = [...chain.findings];
    const purges = chain.links.filter((l) => l.kind === 'purge');
    const finished: PurgeFinished = new Map();
    const through: Record<SealedRelation, string> = { audit_changes: '0', audit_transactions: '0' };
    let sealsChecked = 0;
    let rowsChecked = 0;
    for (const link of chain.links) {
      if (link.kind !== 'range' || !link.relation) continue;
      if (link.to !== null && BigInt(link.to) > BigInt(through[link.relation]))
        through[link.relation] = link.to;
      if (!link.selected) continue;
      sealsChecked++;
      const intact = await rowsIntact(ctx.client, ctx.q, link);
      rowsChecked += intact.rows;
      if (!intact.ok || !link.contentsIntact)
        findings.push(...(await diagnoseLink(ctx.client, ctx.q, link, purges, finished)));
    }
    const counts = Object.fromEntries(KINDS.map((k) => [k, 0])) as Record<IntegrityFindingKind, number>;
    for (const f of findings) counts[f.kind]++;
    const unsealedRow = await ctx.client.query<{ changes: number; transactions: number }>(sql.unsealed, [
      through.audit_changes,
      through.audit_transactions,
    ]);
    const unsealed = {
      audit_changes: Number(unsealedRow.rows[0]!.changes),
      audit_transactions: Number(unsealedRow.rows[0]!.transactions),
    };
    const head = chain.links.at(-1) ?? null;
    const ok = findings.every((f) => f.kind === 'purged');
    const problems = findings.length - counts.purged;
    await ctx.client.query(sql.finish, [
      verificationId,
      ok ? 'ok' : 'failed',
      sealsChecked,
      rowsChecked,
      problems,
      JSON.stringify({ counts, unsealed, headHash: head?.hash ?? null }),
      head?.id ?? null,
      null,
    ]);
    return {
      ok,
      verificationId,
      checkedAt: new Date(started.rows[0]!.started_at).toISOString(),
      from,
      to,
      sealsChecked,
      rowsChecked,
      counts,
      findings: findings.slice(0, cap),
      findingsTruncated: findings.length > cap,
      unsealed,
      headSealId: head?.id ?? null,
      headHash: head?.hash ?? null,
    };
  } catch (error) {
    await ctx.client
      .query(sql.finish, [
        verificationId,
        'error',
        0,
        0,
        0,
        null,
        null,
        error instanceof Error ? error.name : 'Error',
      ])
      .catch(() => undefined);
    throw error;
  }
}
