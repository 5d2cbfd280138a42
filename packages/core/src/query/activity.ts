import { isoSql } from './rows.js';
import { Params } from './sql-parts.js';
import { timelineFilterSql } from './timeline-sql.js';
import { invalid, parseTimelineFilters, type TimelineFilters } from './validate.js';

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

function parseBucket(value: unknown): ActivityBucketSize | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string' && (ACTIVITY_BUCKETS as readonly string[]).includes(value))
    return value as ActivityBucketSize;
  throw invalid(
    `activity: bucket must be one of ${ACTIVITY_BUCKETS.join(', ')}, got ${JSON.stringify(String(value).slice(0, 20))}`,
  );
}

/**
 * Changes and transactions per bucket of time with the timeline's filters (same keys, same
 * validation): what the operator's activity chart draws. Without `from`, the window is the
 * 24 buckets up to `to` (default now); a window of more than 1000 buckets is refused.
 */
export async function activityCounts(run: Run, q: string, input: ActivityFilters = {}): Promise<Activity> {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw invalid('activity: filters must be an object');
  const { bucket: rawBucket, ...rest } = input;
  const chosen = parseBucket(rawBucket);
  const f = parseTimelineFilters(rest);
  const to = f.to ?? new Date().toISOString();
  const toMs = Date.parse(to);
  let bucket: ActivityBucketSize = chosen ?? 'hour';
  if (!chosen && f.from) {
    const span = (toMs - Date.parse(f.from)) / 1000;
    bucket = ACTIVITY_BUCKETS.find((b) => span / SECONDS[b] <= 100) ?? 'month';
  }
  const from = f.from ?? new Date(toMs - DEFAULT_BUCKETS * SECONDS[bucket] * 1000).toISOString();
  const count = Math.ceil((toMs - Date.parse(from)) / 1000 / SECONDS[bucket]);
  if (count > MAX_ACTIVITY_BUCKETS)
    throw invalid(
      `activity: ${from} to ${to} is about ${count} ${bucket} buckets, more than ${MAX_ACTIVITY_BUCKETS}; choose a larger bucket or a shorter window`,
    );
  const p = new Params();
  const { where, transactions } = timelineFilterSql(q, p, { ...f, from, to }, null);
  if (transactions) where.unshift(`c.transaction_id IN (${transactions})`);
  // `bucket` is one of ACTIVITY_BUCKETS (checked above), so it is written as a literal.
  const b = `'${bucket}'`;
  const fromP = p.add(from);
  const toP = p.add(to);
  const sql = `WITH counts AS (
      SELECT date_trunc(${b}, c.captured_at AT TIME ZONE 'UTC') AS start, count(*) AS changes,
        count(DISTINCT c.transaction_id) AS transactions
      FROM ${q}.audit_changes c WHERE ${where.join(' AND ')} GROUP BY 1)
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
