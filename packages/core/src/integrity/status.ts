import type { IntegrityContext } from './seal.js';
import type { IntegrityFindingKind, IntegrityStatus, SealedRelation } from './types.js';

const iso = (v: unknown) => (v === null || v === undefined ? null : new Date(v as string).toISOString());

/** The newest seal and the newest verification, for `threadline verify-integrity` and the operator surface. */
export async function integrityStatus(ctx: IntegrityContext): Promise<IntegrityStatus> {
  await ctx.assertInstalled('integrity.status');
  const q = ctx.q;
  const seal = await ctx.client.query<{
    id: string;
    sealed_at: Date;
    hash: string;
    changes: string;
    transactions: string;
  }>(
    `SELECT s.id::text AS id, s.sealed_at, encode(s.hash, 'hex') AS hash,
        (SELECT coalesce(max(range_to), 0)::text FROM ${q}.integrity_seals WHERE kind = 'range' AND relation = 'audit_changes') AS changes,
        (SELECT coalesce(max(range_to), 0)::text FROM ${q}.integrity_seals WHERE kind = 'range' AND relation = 'audit_transactions') AS transactions
       FROM ${q}.integrity_seals s WHERE s.kind = 'range' ORDER BY s.id DESC LIMIT 1`,
  );
  const ver = await ctx.client.query<{
    id: string;
    status: 'running' | 'ok' | 'failed' | 'error';
    started_at: Date;
    finished_at: Date | null;
    range_from: Date | null;
    range_to: Date | null;
    seals_checked: number;
    rows_checked: string;
    findings: number;
    summary: { counts?: Partial<Record<IntegrityFindingKind, number>> } | null;
  }>(
    `SELECT id::text AS id, status, started_at, finished_at, range_from, range_to, seals_checked, rows_checked::text AS rows_checked,
        findings, summary FROM ${q}.integrity_verifications ORDER BY id DESC LIMIT 1`,
  );
  const s = seal.rows[0];
  const v = ver.rows[0];
  return {
    lastSeal: s
      ? {
          id: s.id,
          sealedAt: iso(s.sealed_at)!,
          hash: s.hash,
          sealedThrough: { audit_changes: s.changes, audit_transactions: s.transactions } as Record<
            SealedRelation,
            string
          >,
        }
      : null,
    lastVerification: v
      ? {
          id: v.id,
          status: v.status,
          startedAt: iso(v.started_at)!,
          finishedAt: iso(v.finished_at),
          from: iso(v.range_from),
          to: iso(v.range_to),
          sealsChecked: Number(v.seals_checked),
          rowsChecked: Number(v.rows_checked),
          findings: Number(v.findings),
          counts: v.summary?.counts ?? {},
        }
      : null,
  };
}
