import { callerCallback, callerErrorOf } from '../caller-callback.js';
import { ActorRef } from '../context/actor-ref.js';
import { getAuditContext } from '../context/context.js';
import { toThreadlineError } from '../db/db-errors.js';
import { readCommitted } from '../db/read-committed.js';
import type { SqlClient, SqlSession } from '../db/sql-client.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { appendPurgeLink } from '../integrity/seal.js';
import { isDate } from '../plain-input.js';
import { checkKeys, parseFlag, parseInstant, parseWholeNumber } from '../query/validate.js';
import { safeText } from '../safe-text.js';
import { type ArchiveSummary, emptySummary } from './archive.js';
import { archiveLeftovers } from './archive-leftovers.js';
import { publishRetention } from './channels.js';
import { countDetached, countDroppable, dropExpiredPartitions } from './partitions.js';
import type { ResolvedRetentionPolicy } from './policy.js';
import { deleteOldChanges } from './purge-changes.js';
import { purgeSql } from './purge-sql.js';

export interface PurgeOptions {
  /** Count exactly what a run would delete; delete nothing. */
  dryRun?: boolean;
  batchSize?: number;
  maxBatches?: number;
  /** Only stricter (older) than the policy's cutoff. */
  cutoff?: Date | string;
  /** Who runs the purge (recorded on the run); default: the current audit context's actor. */
  actor?: ActorRef;
  /** Called after every batch (progress output). */
  onBatch?: (progress: PurgeProgress) => void;
}

export interface PurgeProgress {
  batches: number;
  deletedChanges: number;
  deletedTransactions: number;
  /** Changes eligible (counted by dry runs only; null in a real run, which does not count first). */
  eligibleChanges: number | null;
}

export interface PurgeResult {
  runId: string;
  dryRun: boolean;
  /** ISO 8601 (UTC): changes captured before it are removed. */
  cutoff: string;
  deletedChanges: number;
  deletedTransactions: number;
  deletedActions: number;
  droppedPartitions: number;
  batchesRun: number;
  /** False when maxBatches stopped the run before everything eligible was gone. */
  complete: boolean;
  /** What retention.archive wrote before deleting (null without an archive, and in dry runs). */
  archive: ArchiveSummary | null;
}

export interface PurgeContext {
  client: SqlClient;
  schema: string;
  q: string;
  policy: ResolvedRetentionPolicy | undefined;
  /** A run without a heartbeat for this long is considered dead. */
  abandonAfterSeconds: number;
}

const WHERE = 'retention.purge';

/** The options purge takes (a schedule passes them through to every run). */
export const PURGE_OPTION_KEYS = ['dryRun', 'batchSize', 'maxBatches', 'cutoff', 'actor', 'onBatch'] as const;

const COUNT = (fallback: number) => ({ min: 1, max: 10_000_000, fallback });

function iso(value: unknown): string {
  return isDate(value) ? value.toISOString() : new Date(String(value)).toISOString();
}

/** Validate options, check the policy, and find the cutoff. */
async function prepare(ctx: PurgeContext, input: unknown) {
  const options = checkKeys(input, PURGE_OPTION_KEYS, `${WHERE} options`, true) as PurgeOptions;
  // Only true makes a dry run, and only true or false are accepted: a mistyped 'true' or 1 must
  // never run a real purge.
  const dryRun = parseFlag(options.dryRun, 'dryRun', WHERE) ?? false;
  if (options.onBatch !== undefined && typeof options.onBatch !== 'function')
    throw new ThreadlineError('QUERY_INVALID', `${WHERE}: onBatch must be a function`);
  if (!ctx.policy) {
    throw new ThreadlineError(
      'RETENTION_DISABLED',
      `${WHERE}: no retention policy; pass createThreadline({ retention: { enabled: true, keepDays: 365 } }) or set retention in threadline.config`,
    );
  }
  if (!ctx.policy.enabled) {
    throw new ThreadlineError(
      'RETENTION_DISABLED',
      `${WHERE}: retention is disabled (retention.enabled is false); enable it in the config to purge`,
    );
  }
  const batchSize = parseWholeNumber(options.batchSize, 'batchSize', WHERE, COUNT(ctx.policy.batchSize));
  const maxBatches = parseWholeNumber(options.maxBatches, 'maxBatches', WHERE, COUNT(ctx.policy.maxBatches));
  const { rows } = await ctx.client.query<{ cutoff: Date }>(purgeSql(ctx.q).policyCutoff, [
    ctx.policy.windowSeconds,
  ]);
  const policyCutoff = iso(rows[0]!.cutoff);
  let cutoff = policyCutoff;
  if (options.cutoff !== undefined) {
    const asked = parseInstant(options.cutoff, `${WHERE}: cutoff`);
    if (Date.parse(asked) > Date.parse(policyCutoff)) {
      throw new ThreadlineError(
        'QUERY_INVALID',
        `${WHERE}: cutoff ${asked} is newer than the policy allows (${policyCutoff}); a cutoff may only be older than the policy's`,
      );
    }
    cutoff = asked;
  }
  const actor = options.actor ? ActorRef.parse(options.actor) : (getAuditContext()?.actor ?? null);
  return { dryRun, batchSize, maxBatches, cutoff, actor, onBatch: callerCallback(options.onBatch) };
}

/** Start a run: mark dead runs abandoned, refuse when another run is alive, insert ours. */
async function startRun(
  ctx: PurgeContext,
  cutoff: string,
  dryRun: boolean,
  actor: ActorRef | null,
): Promise<string> {
  const sql = purgeSql(ctx.q);
  return readCommitted(ctx.client, async (s) => {
    await s.query(sql.lock, [ctx.schema]);
    await s.query(sql.markAbandoned, [ctx.abandonAfterSeconds]);
    const running = await s.query<{ id: string; started_at: Date }>(sql.running);
    if (running.rows[0]) {
      const r = running.rows[0];
      throw new ThreadlineError(
        'RETENTION_RUNNING',
        `${WHERE}: purge run #${r.id} is running since ${iso(r.started_at)}; wait for it (a run that stops making progress is marked abandoned after ${ctx.abandonAfterSeconds} s)`,
      );
    }
    const { rows } = await s.query<{ id: string }>(sql.startRun, [
      cutoff,
      dryRun,
      actor ? ActorRef.toJSON(actor) : null,
    ]);
    // Before anything is deleted, the seal chain records that this run may remove sealed rows
    // older than the cutoff, so verify-integrity reports them as purged, not removed.
    if (!dryRun) await appendPurgeLink(s, ctx.q, ctx.schema, rows[0]!.id, cutoff);
    return rows[0]!.id;
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Purge audit data older than the cutoff (see SPEC section 10). */
export async function purge(ctx: PurgeContext, options?: PurgeOptions): Promise<PurgeResult> {
  let prepared: Awaited<ReturnType<typeof prepare>>;
  try {
    prepared = await prepare(ctx, options);
  } catch (error) {
    throw isThreadlineError(error) ? error : toThreadlineError(error, WHERE);
  }
  const { dryRun, batchSize, maxBatches, cutoff, actor, onBatch } = prepared;
  const sql = purgeSql(ctx.q);
  const deleteEmpty = ctx.policy!.deleteEmptyTransactions;
  const runId = await startRun(ctx, cutoff, dryRun, actor).catch((error) => {
    throw isThreadlineError(error) ? error : toThreadlineError(error, WHERE);
  });
  const started = performance.now();
  publishRetention('start', { runId, dryRun, batchSize, maxBatches });
  const totals: Totals = {
    changes: 0,
    transactions: 0,
    actions: 0,
    batches: 0,
    partitions: 0,
    archive: ctx.policy!.archive && !dryRun ? emptySummary(ctx.policy!.archive) : null,
  };
  try {
    // Fails early (before any batch) on a database installed before retention_runs.archive.
    if (totals.archive) await ctx.client.query(sql.setArchive, [runId, JSON.stringify(totals.archive)]);
    let complete: boolean;
    if (dryRun) {
      // Whole partitions older than the cutoff are dropped, not deleted in batches (not when
      // archiving: then the batches archive and delete their rows).
      // Tables a stopped run detached are archived and dropped either way: counted both ways.
      const dropped = ctx.policy!.archive
        ? { partitions: [], changes: 0, detached: await countDetached(ctx.client, ctx.schema, ctx.q) }
        : await countDroppable(ctx.client, ctx.schema, ctx.q, cutoff);
      const { rows } = await ctx.client.query<
        Record<'changes' | 'transactions' | 'actions' | 'changeless' | 'standalone', string>
      >(sql.count, [cutoff, deleteEmpty, dropped.partitions]);
      const n = (k: keyof (typeof rows)[number]) => Number(rows[0]![k]);
      // Tables a stopped run detached but did not drop are no longer in audit_changes: added.
      totals.changes = n('changes') + dropped.detached.changes;
      totals.transactions = n('transactions');
      totals.actions = n('actions') + n('standalone');
      totals.partitions = dropped.partitions.length + dropped.detached.tables;
      // The batches a real run takes: each phase ends with a batch that finds less than a full one.
      const phase = (count: number) => Math.floor(count / batchSize) + 1;
      totals.batches =
        phase(n('changes') - dropped.changes) +
        (deleteEmpty ? phase(n('changeless')) : 0) +
        phase(n('standalone'));
      complete = totals.batches <= maxBatches;
    } else {
      // With retention.archive, partitions are not dropped unarchived: the batches take their
      // rows (archiveBeforeDelete, called from deleteOldChanges, is the hook for a drop too).
      if (!totals.archive) {
        const dropped = await dropExpiredPartitions(ctx.client, ctx.schema, ctx.q, runId, cutoff);
        totals.partitions = dropped.partitions;
        totals.changes = dropped.changes;
      } else await archiveLeftovers(ctx, runId, cutoff, batchSize, totals);
      // No count first: on a large backlog it costs as much as the batches themselves.
      complete = await runBatches(
        ctx,
        runId,
        { cutoff, batchSize, maxBatches, deleteEmpty },
        totals,
        onBatch,
      );
    }
    await ctx.client.query(sql.finishRun, [
      runId,
      'completed',
      null,
      totals.changes,
      totals.transactions,
      totals.actions,
      totals.batches,
      totals.partitions,
    ]);
    const result: PurgeResult = {
      runId,
      dryRun,
      cutoff,
      deletedChanges: totals.changes,
      deletedTransactions: totals.transactions,
      deletedActions: totals.actions,
      droppedPartitions: totals.partitions,
      batchesRun: totals.batches,
      complete,
      archive: totals.archive,
    };
    publishRetention('end', {
      runId,
      dryRun,
      deletedChanges: totals.changes,
      deletedTransactions: totals.transactions,
      droppedPartitions: totals.partitions,
      batches: totals.batches,
      complete,
      durationMs: performance.now() - started,
    });
    return result;
  } catch (error) {
    // An error onBatch threw is recorded with the run, then reaches the caller unchanged.
    const caller = callerErrorOf(error);
    const failure = caller
      ? new ThreadlineError('CALLBACK_FAILED', `${WHERE}: onBatch threw: ${safeText(caller.error)}`)
      : isThreadlineError(error)
        ? error
        : toThreadlineError(error, WHERE);
    publishRetention('error', {
      runId,
      dryRun,
      code: failure.code,
      batches: totals.batches,
      durationMs: performance.now() - started,
    });
    await ctx.client
      .query(sql.finishRun, [
        runId,
        'failed',
        failure.message.slice(0, 2000),
        totals.changes,
        totals.transactions,
        totals.actions,
        totals.batches,
        totals.partitions,
      ])
      .catch(() => undefined);
    throw caller ? caller.error : failure;
  }
}

export interface Totals {
  changes: number;
  transactions: number;
  actions: number;
  batches: number;
  partitions: number;
  archive: ArchiveSummary | null;
}

export interface BatchPlan {
  cutoff: string;
  batchSize: number;
  maxBatches: number;
  deleteEmpty: boolean;
}

async function runBatches(
  ctx: PurgeContext,
  runId: string,
  plan: BatchPlan,
  totals: Totals,
  onBatch: PurgeOptions['onBatch'],
): Promise<boolean> {
  const sql = purgeSql(ctx.q);
  const sleepMs = ctx.policy!.sleepMs;
  let phase: 'changes' | 'empty' | 'actions' | 'done' = 'changes';
  let sweep = { at: '-infinity', id: '0' };
  while (phase !== 'done') {
    if (totals.batches >= plan.maxBatches) return false;
    const got = await readCommitted(ctx.client, async (s: SqlSession) => {
      await s.query(sql.lock, [ctx.schema]);
      let changes = 0;
      let txs: string[] = [];
      let standalone = 0;
      let archive: ArchiveSummary | undefined;
      if (phase === 'actions') {
        const { rows } = await s.query<{ n: number }>(sql.deleteStandaloneActions, [
          plan.cutoff,
          plan.batchSize,
        ]);
        standalone = rows[0]!.n;
      } else if (phase === 'changes') {
        ({ n: changes, txs, archive } = await deleteOldChanges(s, ctx, runId, plan, totals));
      } else {
        const { rows } = await s.query<{ id: string; at: string }>(sql.emptySweep, [
          plan.cutoff,
          sweep.at,
          sweep.id,
          plan.batchSize,
        ]);
        txs = rows.map((r) => String(r.id));
        const last = rows.at(-1);
        if (last) sweep = { at: last.at, id: String(last.id) };
      }
      let transactions = 0;
      let actions = 0;
      if (plan.deleteEmpty && txs.length > 0) {
        const { rows } = await s.query<{ transactions: number; actions: number }>(sql.deleteEmpty, [
          txs,
          plan.cutoff,
        ]);
        transactions = rows[0]!.transactions;
        actions = rows[0]!.actions;
      }
      actions += standalone;
      const beat = await s.query(sql.heartbeat, [runId, changes, transactions, actions, 1, 0]);
      if (beat.rows.length === 0) {
        throw new ThreadlineError(
          'RETENTION_RUNNING',
          `${WHERE}: run #${runId} was marked abandoned by another run while it worked; it stopped`,
        );
      }
      return {
        archive,
        changes,
        transactions,
        actions,
        scanned: phase === 'actions' ? standalone : txs.length,
      };
    });
    totals.batches++;
    if (got.archive) totals.archive = got.archive;
    totals.changes += got.changes;
    totals.transactions += got.transactions;
    totals.actions += got.actions;
    publishRetention('batch', {
      runId,
      batch: totals.batches,
      deletedChanges: got.changes,
      deletedTransactions: got.transactions,
    });
    onBatch?.({
      batches: totals.batches,
      deletedChanges: totals.changes,
      deletedTransactions: totals.transactions,
      eligibleChanges: null,
    });
    if (phase === 'changes' && got.changes < plan.batchSize) phase = plan.deleteEmpty ? 'empty' : 'actions';
    else if (phase === 'empty' && got.scanned < plan.batchSize) phase = 'actions';
    else if (phase === 'actions' && got.scanned < plan.batchSize) phase = 'done';
    if (phase !== 'done' && sleepMs > 0) await sleep(sleepMs);
  }
  return true;
}
