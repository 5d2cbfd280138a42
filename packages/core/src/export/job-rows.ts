import type { ActorRef } from '../context/actor-ref.js';
import { isoSql } from '../query/rows.js';
import type { ExportFormat } from './options.js';

export type ExportJobStatus = 'pending' | 'running' | 'completed' | 'failed' | 'expired';

/** A background export job (a row of export_jobs). */
export interface ExportJob {
  id: string;
  status: ExportJobStatus;
  /** The timeline filters, as JSON. */
  filters: Record<string, unknown>;
  format: ExportFormat;
  formulaGuard: boolean;
  requestedBy: ActorRef;
  rowCount: number | null;
  bytes: number | null;
  fileRef: string | null;
  /** Why it failed: an error code and message, never row values. */
  error: string | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  expiresAt: string;
}

export const JOB_COLUMNS = `j.id::text AS id, j.status, j.filters, j.format, j.formula_guard, j.requested_by,
  j.row_count::text AS row_count, j.bytes::text AS bytes, j.file_ref, j.error, ${isoSql('j.created_at')} AS created_at,
  ${isoSql('j.started_at')} AS started_at, ${isoSql('j.finished_at')} AS finished_at, ${isoSql('j.expires_at')} AS expires_at`;

export interface JobRow {
  id: string;
  status: ExportJobStatus;
  filters: Record<string, unknown>;
  format: ExportFormat;
  formula_guard: boolean;
  requested_by: ActorRef;
  row_count: string | null;
  bytes: string | null;
  file_ref: string | null;
  error: string | null;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string;
}

export function toJob(r: JobRow): ExportJob {
  return {
    id: r.id,
    status: r.status,
    filters: r.filters,
    format: r.format,
    formulaGuard: r.formula_guard,
    requestedBy: r.requested_by,
    rowCount: r.row_count === null ? null : Number(r.row_count),
    bytes: r.bytes === null ? null : Number(r.bytes),
    fileRef: r.file_ref,
    error: r.error,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    expiresAt: r.expires_at,
  };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (value: unknown): value is string => typeof value === 'string' && UUID.test(value);
