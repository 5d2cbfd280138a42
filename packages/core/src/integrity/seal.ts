import { queryReadCommitted, readCommitted } from '../db/read-committed.js';
import type { SqlClient, SqlSession } from '../db/sql-client.js';
import { ThreadlineError } from '../errors.js';
import { checkKeys } from '../query/validate.js';
import { integritySql } from './integrity-sql.js';
import {
  SEALED_RELATIONS,
  type SealedRelation,
  type SealLink,
  type SealOptions,
  type SealResult,
} from './types.js';
import { recordWatermark, settledWatermark } from './watermark.js';

export interface IntegrityContext {
  client: SqlClient;
  schema: string;
  q: string;
  assertInstalled: (what: string) => Promise<void>;
}

const WHERE = 'integrity.seal';

function bounded(value: unknown, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ThreadlineError(
      'QUERY_INVALID',
      `${WHERE}: ${name} must be a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

/** Append the chain link sealing `relation`'s ids in (from, to], under the chain lock. */
async function appendLink(
  s: SqlSession,
  ctx: IntegrityContext,
  relation: SealedRelation,
  from: bigint,
  to: bigint,
): Promise<SealLink> {
  const sql = integritySql(ctx.q);
  const { rows } = await s.query<{ id: string; n: number }>(sql.appendRange, [
    relation,
    String(from),
    String(to),
  ]);
  const { id, n } = rows[0]!;
  const hashed = await s.query<{ hash: string }>(sql.hashLink, [id]);
  return {
    id,
    relation,
    from: String(from),
    to: String(to),
    rowCount: Number(n),
    hash: hashed.rows[0]!.hash,
  };
}

/**
 * Seal one relation through `through`, a link per `chunkSize` ids, each in its own short
 * transaction that holds only the chain's advisory lock (capture never takes it). A stretch with
 * no rows (ids lost to rollbacks or a moved sequence) is folded into the next link.
 */
async function sealRelation(
  ctx: IntegrityContext,
  relation: SealedRelation,
  through: bigint,
  chunkSize: number,
  onLink: (link: SealLink) => void,
): Promise<void> {
  const sql = integritySql(ctx.q);
  for (;;) {
    const link = await readCommitted(ctx.client, async (s) => {
      await s.query(sql.lock, [ctx.schema]);
      const sealed = await s.query<{ through: string }>(sql.sealedThrough, [relation]);
      const from = BigInt(sealed.rows[0]!.through);
      if (from >= through) return null;
      let to = from + BigInt(chunkSize) < through ? from + BigInt(chunkSize) : through;
      if (to < through) {
        const any = await s.query<{ first: string | null }>(sql.anyRows, [
          relation,
          String(from),
          String(to),
        ]);
        if (any.rows[0]!.first === null) {
          const next = await s.query<{ first: string | null }>(sql.anyRows, [
            relation,
            String(to),
            String(through),
          ]);
          const first = next.rows[0]!.first;
          to = first === null ? through : BigInt(first) - 1n + BigInt(chunkSize);
          if (to > through) to = through;
        }
      }
      return appendLink(s, ctx, relation, from, to);
    });
    if (!link) return;
    onLink(link);
  }
}

/**
 * A watermark reads how far each id sequence stands (pg_sequence_last_value): with a CACHE above
 * 1 that is the end of one session's block, and ids below it are handed out later by that
 * session, after a seal sealed past them (verify would report them inserted). Install sets CACHE
 * 1; a cache set since is refused here, naming the fix.
 */
async function assertUncachedSequences(ctx: IntegrityContext): Promise<void> {
  const { rows } = await ctx.client.query<{ sequence: string; cache: number }>(
    integritySql(ctx.q).sequenceCache,
    [`${ctx.q}.audit_changes`, `${ctx.q}.audit_transactions`],
  );
  const cached = rows.filter((r) => Number(r.cache) > 1);
  if (cached.length === 0) return;
  throw new ThreadlineError(
    'CONFIG_INVALID',
    `${WHERE}: ${cached.map((r) => `${r.sequence} caches ${r.cache} ids per session`).join(' and ')}; seals need every id handed out in order (a cached block's ids are used after a seal passed them, and verify would report them as inserted). Run ${cached.map((r) => `ALTER SEQUENCE ${r.sequence} CACHE 1;`).join(' ')} (threadline install does it too), then seal again`,
  );
}

/** The first change in (sealed, through] still without table id and key hash, or null. */
async function firstUnkeyed(ctx: IntegrityContext, through: bigint): Promise<bigint | null> {
  const sql = integritySql(ctx.q);
  const sealed = await ctx.client.query<{ through: string }>(sql.sealedThrough, ['audit_changes']);
  const { rows } = await ctx.client.query<{ first: string | null }>(sql.firstUnkeyed, [
    sealed.rows[0]!.through,
    String(through),
  ]);
  return rows[0]!.first === null ? null : BigInt(rows[0]!.first);
}

/** tl.integrity.seal(): extend the hash chain over every committed audit row not sealed yet. */
export async function seal(ctx: IntegrityContext, options: SealOptions = {}): Promise<SealResult> {
  options = checkKeys(options, ['chunkSize', 'waitMs', 'onLink'], 'integrity.seal options') as SealOptions;
  const started = performance.now();
  const chunkSize = bounded(options.chunkSize, 'chunkSize', 50_000, 100, 1_000_000);
  const waitMs = bounded(options.waitMs, 'waitMs', 2000, 0, 600_000);
  await ctx.assertInstalled(WHERE);
  await assertUncachedSequences(ctx);
  const sql = integritySql(ctx.q);
  const wanted = await recordWatermark(ctx.client, ctx.q);
  const { settled, openTransactions } = await settledWatermark(ctx.client, ctx.q, wanted, waitMs);
  const links: SealLink[] = [];
  const onLink = (link: SealLink) => {
    links.push(link);
    options.onLink?.(link);
  };
  let unkeyed: bigint | null = null;
  if (settled) {
    for (const relation of SEALED_RELATIONS) {
      let through = BigInt(relation === 'audit_changes' ? settled.changes : settled.transactions);
      // Every id up to `through` is final now (the watermark settled): a change among them not
      // keyed yet would have its table_id and key_hash set by the backfill after the seal.
      if (relation === 'audit_changes') {
        unkeyed = await firstUnkeyed(ctx, through);
        if (unkeyed !== null) through = unkeyed - 1n;
      }
      await sealRelation(ctx, relation, through, chunkSize, onLink);
    }
    // Concurrent seals forget the same rows: under a repeatable-read default a DELETE of a row
    // another one deleted fails to serialize instead of skipping it.
    await queryReadCommitted(ctx.client, sql.forgetWatermarks, [settled.id]);
  }
  const sealedThrough = {} as Record<SealedRelation, string>;
  for (const relation of SEALED_RELATIONS) {
    const { rows } = await ctx.client.query<{ through: string }>(sql.sealedThrough, [relation]);
    sealedThrough[relation] = rows[0]!.through;
  }
  let pending: SealResult['pending'] = null;
  let mark: { changes: string; transactions: string } | undefined = settled ?? undefined;
  if (!settled || settled.id !== wanted) {
    const w = await ctx.client.query<{ changes: string; transactions: string }>(
      `SELECT changes_last::text AS changes, transactions_last::text AS transactions FROM ${ctx.q}.integrity_watermarks WHERE id = $1`,
      [wanted],
    );
    mark = w.rows[0];
  }
  if (
    mark &&
    (BigInt(mark.changes) > BigInt(sealedThrough.audit_changes) ||
      BigInt(mark.transactions) > BigInt(sealedThrough.audit_transactions))
  ) {
    pending = {
      changesThrough: mark.changes,
      transactionsThrough: mark.transactions,
      openTransactions,
      unkeyedChange: unkeyed === null ? null : String(unkeyed),
    };
  }
  const head = await ctx.client.query<{ hash: string }>(sql.head);
  return {
    links,
    sealedRows: links.reduce((n, l) => n + l.rowCount, 0),
    sealedThrough,
    pending,
    headHash: head.rows[0]?.hash ?? null,
    durationMs: Math.round(performance.now() - started),
  };
}

/** Retention, before it deletes: append a purge link naming the run and its cutoff. */
export async function appendPurgeLink(
  s: SqlSession,
  q: string,
  schema: string,
  runId: string,
  cutoff: string,
): Promise<void> {
  const sql = integritySql(q);
  // An install from before tamper evidence (not upgraded yet) has no chain to extend.
  const chain = await s.query<{ ok: boolean }>('SELECT to_regclass($1) IS NOT NULL AS ok', [
    `${q}.integrity_seals`,
  ]);
  if (!chain.rows[0]?.ok) return;
  await s.query(sql.lock, [schema]);
  const { rows } = await s.query<{ id: string }>(sql.appendPurge, [runId, cutoff]);
  await s.query(sql.hashLink, [rows[0]!.id]);
}
