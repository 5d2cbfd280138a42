import { safeText } from '../safe-text.js';
import { isoSql } from './rows.js';
import { Params } from './sql-parts.js';
import { timelineFilterSql } from './timeline-sql.js';
import { invalid, parseTimelineFilters, readFilters, type TimelineFilters } from './validate.js';

const ACTIVITY_BUCKETS = ['minute', 'hour', 'day', 'week', 'month'] as const;
export type ActivityBucketSize = (typeof ACTIVITY_BUCKETS)[number];

/** The timeline's filters and the width of one bucket (default: hour without `from`, else chosen from the window). */
export interface ActivityFilters extends TimelineFilters {
  bucket?: ActivityBucketSize;
}

export interface ActivityBucket {
  /** Start of the bucket, ISO 8601 UTC (buckets are UTC: days start at 00:00Z, weeks on Monday). */
  start: string;
  changes: number;
  /** Audit transactions with at least one matching change in the bucket. */
  transactions: number;
}

export interface Activity {
  bucket: ActivityBucketSize;
  from: string;
  to: string;
  /** Every bucket of the window, oldest first, empty ones included. */
  buckets: ActivityBucket[];
}

const SECONDS: Record<ActivityBucketSize, number> = {
  minute: 60,
  hour: 3600,
  day: 86_400,
  week: 7 * 86_400,
  month: 31 * 86_400,
};
/** Buckets in the default window when `from` is not given. */
const DEFAULT_BUCKETS = 24;
const MAX_ACTIVITY_BUCKETS = 1000;

type Run = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

const HOUR_MS = 3_600_000;
const FIRST_MS = Date.parse('0001-01-01T00:00:00Z');
const END_MS = Date.parse('+010000-01-01T00:00:00Z');

function parseBucket(value: unknown): ActivityBucketSize | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && (ACTIVITY_BUCKETS as readonly string[]).includes(value))
    return value as ActivityBucketSize;
  throw invalid(
    `activity: bucket must be one of ${ACTIVITY_BUCKETS.join(', ')}, got ${JSON.stringify(safeText(value).slice(0, 20))}`,
  );
}

/**
 * The ranges [lo, hi) of whole hours inside [from, to] that the rollup covers (activity-ddl.ts),
 * or none when this install has no rollup or the reader may not read it.
 */
async function coveredRanges(run: Run, q: string, from: string, to: string): Promise<[string, string][]> {
  // Instants carry microseconds that Date.parse drops: round inwards by a whole hour where that
  // could matter (an hour-aligned `from` leaves its first hour to audit_changes, still exact).
  const lo = Math.ceil((Date.parse(from) + 1) / HOUR_MS) * HOUR_MS;
  const hi = Math.floor(Date.parse(to) / HOUR_MS) * HOUR_MS; // hours ending at or before `to`
  if (hi <= lo) return [];
  const name = (t: string) => `${q}.${t}`;
  const tables = ['activity_rollup', 'activity_hours', 'activity_forgets', 'activity_state'].map(name);
  const [ok] = await run(
    `SELECT bool_and(to_regclass(t) IS NOT NULL AND has_table_privilege(t, 'SELECT')) AS ok FROM unnest($1::text[]) t`,
    [tables],
  );
  if (!ok?.ok) return [];
  // Gaps and islands: consecutive covered hours share hour - row_number() hours. Hours a purge
  // queued for forgetting (activity_forgets) are not covered any more.
  const rows = await run(
    `WITH f AS (SELECT date_trunc('hour', lo, 'UTC') AS lo, hi FROM ${q}.activity_forgets
                 WHERE hi >= $1::timestamptz AND lo < $2::timestamptz)
     SELECT ${isoSql('min(hour)')} AS lo, ${isoSql(`(max(hour) + interval '1 hour')`)} AS hi FROM (
        SELECT hour, hour - row_number() OVER (ORDER BY hour) * interval '1 hour' AS island
          FROM ${q}.activity_hours a WHERE hour >= $1::timestamptz AND hour + interval '1 hour' <= $2::timestamptz
           AND NOT EXISTS (SELECT 1 FROM f WHERE a.hour >= f.lo AND a.hour <= f.hi)) h
      GROUP BY island ORDER BY 1`,
    [new Date(lo).toISOString(), new Date(hi).toISOString()],
  );
  return rows.map((r) => [r.lo as string, r.hi as string]);
}

/**
 * Changes and transactions per bucket of time with the timeline's filters (same keys, same
 * validation): what the operator's activity chart draws. Without `from`, the window is the
 * 24 buckets up to `to` (default now); a window of more than 1000 buckets is refused. Whole hours
 * the rollup covers are counted from it (activity-ddl.ts), the rest from audit_changes: the same
 * answer either way.
 */
export async function activityCounts(run: Run, q: string, input: ActivityFilters = {}): Promise<Activity> {
  const given = readFilters(input, 'activity');
  const f = parseTimelineFilters(given, ['bucket']);
  const chosen = parseBucket((given as ActivityFilters | null)?.bucket);
  const to = f.to ?? new Date().toISOString();
  const toMs = Date.parse(to);
  let bucket: ActivityBucketSize = chosen ?? 'hour';
  if (!chosen && f.from) {
    const span = (toMs - Date.parse(f.from)) / 1000;
    bucket = ACTIVITY_BUCKETS.find((b) => span / SECONDS[b] <= 100) ?? 'month';
  }
  const fromMs = f.from ? Date.parse(f.from) : toMs - DEFAULT_BUCKETS * SECONDS[bucket] * 1000;
  // A window given with a zone can reach the years 0 or 10000 in UTC, which the buckets (UTC)
  // and PostgreSQL's ISO input cannot hold.
  if (!(fromMs >= FIRST_MS && toMs < END_MS))
    throw invalid(
      `activity: ${f.from ?? 'the default window'} to ${to} reaches outside the years 0001-9999 in UTC; choose a window within them`,
    );
  const from = f.from ?? new Date(fromMs).toISOString();
  const count = Math.ceil((toMs - Date.parse(from)) / 1000 / SECONDS[bucket]);
  if (count > MAX_ACTIVITY_BUCKETS)
    throw invalid(
      `activity: ${from} to ${to} is about ${count} ${bucket} buckets, more than ${MAX_ACTIVITY_BUCKETS}; choose a larger bucket or a shorter window`,
    );
  // Minute buckets are finer than the rollup's hours: counted from audit_changes alone.
  const covered = bucket === 'minute' ? [] : await coveredRanges(run, q, from, to);
  const p = new Params();
  const { where, transactions } = timelineFilterSql(q, p, { ...f, from, to }, null);
  if (transactions) where.unshift(`c.transaction_id IN (${transactions})`);
  const filter = where.join(' AND ');
  const raw = (cond: string) =>
    `SELECT c.captured_at, c.transaction_id, 1::bigint AS changes FROM ${q}.audit_changes c WHERE ${filter}${cond}`;
  // The rollup's rows: one per hour, table and transaction, named like audit_changes' columns
  // (captured_at is the hour), so the timeline's conditions apply to them unchanged. The window's
  // parts outside the covered hours are read from audit_changes, each as its own index range.
  const selects: string[] = [];
  let edge: string | null = null;
  for (const [lo, hi] of covered) {
    const loP = p.add(lo);
    selects.push(
      raw(
        `${edge ? ` AND c.captured_at >= ${edge}::timestamptz` : ''} AND c.captured_at < ${loP}::timestamptz`,
      ),
    );
    edge = p.add(hi);
    selects.push(
      `SELECT c.captured_at, c.transaction_id, c.changes FROM ${q}.activity_rollup c
        WHERE ${filter} AND c.captured_at >= ${loP}::timestamptz AND c.captured_at < ${edge}::timestamptz`,
    );
    // Transactions the rollup does not count yet (open, prepared or unseen at the last refresh).
    selects.push(
      raw(` AND c.captured_at >= ${loP}::timestamptz AND c.captured_at < ${edge}::timestamptz
        AND c.transaction_id IN (SELECT t.id FROM ${q}.audit_transactions t
          WHERE t.txid >= (SELECT s.upto FROM ${q}.activity_state s))`),
    );
  }
  selects.push(raw(edge ? ` AND c.captured_at >= ${edge}::timestamptz` : ''));
  const parts = selects.join('\n      UNION ALL\n      ');
  // `bucket` is one of ACTIVITY_BUCKETS (checked above), so it is written as a literal.
  const b = `'${bucket}'`;
  const fromP = p.add(from);
  const toP = p.add(to);
  const sql = `WITH parts AS (${parts}), counts AS (
      SELECT date_trunc(${b}, x.captured_at AT TIME ZONE 'UTC') AS start, sum(x.changes) AS changes,
        count(DISTINCT x.transaction_id) AS transactions
      FROM parts x GROUP BY 1)
    SELECT ${isoSql(`(s.start AT TIME ZONE 'UTC')`)} AS start, coalesce(k.changes, 0)::text AS changes,
      coalesce(k.transactions, 0)::text AS transactions
    FROM generate_series(date_trunc(${b}, ${fromP}::timestamptz AT TIME ZONE 'UTC'),
      ${toP}::timestamptz AT TIME ZONE 'UTC', interval '1 ${bucket}') s(start)
    LEFT JOIN counts k ON k.start = s.start ORDER BY s.start`;
  const rows = await run(sql, p.values);
  return {
    bucket,
    from,
    to,
    buckets: rows.map((r) => ({
      start: (r.start as string).replace(/\.000000Z$/, 'Z'),
      changes: Number(r.changes),
      transactions: Number(r.transactions),
    })),
  };
}
