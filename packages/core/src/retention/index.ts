import type { SqlClient } from '../db/sql-client.js';
import type { ResolvedRetentionPolicy } from './policy.js';
import { type PurgeOptions, type PurgeResult, purge } from './purge.js';
import { listRuns, type RetentionRun } from './runs.js';
import { type RetentionSchedule, type ScheduleOptions, schedulePurges } from './schedule.js';

export type { ArchiveSummary } from './archive.js';
export type { ArchiveBatch, RetentionArchive } from './archive-policy.js';
export type { ResolvedRetentionPolicy, RetentionPolicy } from './policy.js';
export type { PurgeOptions, PurgeProgress, PurgeResult } from './purge.js';
export type { RetentionRun } from './runs.js';
export type { RetentionSchedule, ScheduleOptions } from './schedule.js';

/** `tl.retention`: purge audit data past the policy's window, list runs, schedule purges. */
export interface RetentionApi {
  /** The validated policy, or undefined when none is configured. */
  readonly policy: ResolvedRetentionPolicy | undefined;
  purge(options?: PurgeOptions): Promise<PurgeResult>;
  runs(options?: { limit?: number }): Promise<RetentionRun[]>;
  schedule(options: ScheduleOptions): RetentionSchedule;
}

export function createRetention(
  client: SqlClient,
  schema: string,
  q: string,
  policy: ResolvedRetentionPolicy | undefined,
): RetentionApi {
  const ctx = { client, schema, q, policy, abandonAfterSeconds: 300 };
  const api: RetentionApi = {
    policy,
    purge: (options) => purge(ctx, options),
    runs: (options) => listRuns(client, q, options),
    schedule: (options) => schedulePurges((o) => api.purge(o), options),
  };
  return api;
}
