import { quoteIdent } from '../capture/identifiers.js';
import type { ActorRef } from '../context/actor-ref.js';
import { getAuditContext } from '../context/context.js';
import { parseConsistency, type ReadConsistency, type ReadOptions } from '../db/read-routing.js';
import {
  type ParsedTimelineFilters,
  parseTimelineFilters,
  readFilters,
  type TimelineFilters,
} from '../query/validate.js';
import type { Threadline } from '../threadline.js';
import { CopyRecordSource, copyPool } from './copy-source.js';
import { countMatching } from './count.js';
import type { ExportJob } from './job-rows.js';
import { ExportJobs, type ExportJobsConfig } from './jobs.js';
import {
  checkKeys,
  DEFAULT_COUNT_CAP,
  DEFAULT_MAX_ROWS,
  type ExportStreamOptions,
  type ParsedStreamOptions,
  parsePositiveInt,
  parseStreamOptions,
} from './options.js';
import { PagedRecordSource, type RecordSource } from './record-source.js';
import { type ExportStats, ExportStream } from './stream.js';

export interface ExportBuffer {
  data: Buffer;
  truncated: boolean;
  returnedCount: number;
  maxRows: number;
}

export const EXPORT_ACTION = 'threadline.export';

/** `tl.export`: count, stream and buffer exports with the timeline's filters; background jobs. */
export class ThreadlineExport {
  readonly jobs: ExportJobs;

  constructor(private readonly tl: Threadline) {
    this.jobs = new ExportJobs(this.tl, this);
  }

  /** Storage, runner and expiry for background exports. */
  configure(config: ExportJobsConfig): this {
    this.jobs.configure(config);
    return this;
  }

  private get q(): string {
    return quoteIdent(this.tl.schema);
  }

  /** Reads of the audit tables: readDb unless `'primary'` (the actions an export records go to db). */
  private run(consistency: ReadConsistency) {
    const read = this.tl.reader(consistency);
    return (sql: string, params: unknown[]) => read<Record<string, unknown>>(sql, params);
  }

  /** How many changes match `filters`; with a cap (default 10000) counting stops past it. */
  async count(
    filters: TimelineFilters = {},
    options: { cap?: number | null } & ReadOptions = {},
  ): Promise<{ count: number; capped: boolean }> {
    const f = parseTimelineFilters(readFilters(filters, 'export.count'));
    const o = checkKeys(options, ['cap', 'consistency'], 'export.count options');
    const consistency = parseConsistency(o.consistency, 'export.count');
    const cap =
      o.cap === undefined
        ? DEFAULT_COUNT_CAP
        : o.cap === null
          ? null
          : parsePositiveInt(o.cap, Number.MAX_SAFE_INTEGER, 'export.count: cap');
    return countMatching(this.run(consistency), this.q, f, cap);
  }

  /**
   * The changes matching `filters` as bytes of a CSV, JSON or NDJSON file, newest first, read page
   * by page as the consumer reads (a Node Readable, also async-iterable). Recorded as a
   * `threadline.export` action when it ends or stops.
   */
  stream(filters: TimelineFilters, options: ExportStreamOptions): ExportStream {
    const given = readFilters(filters, 'export');
    const f = parseTimelineFilters(given);
    const o = parseStreamOptions(options, 'export');
    return this.createStream(f, filtersJson(given), o, { kind: 'stream' });
  }

  /** A small export in memory: at most `maxRows` (default 10000) rows; `truncated` when more matched. */
  async toBuffer(
    filters: TimelineFilters,
    options: Omit<ExportStreamOptions, 'pageSize'> & { maxRows?: number },
  ): Promise<ExportBuffer> {
    const given = readFilters(filters, 'export.toBuffer');
    const f = parseTimelineFilters(given);
    const o = parseStreamOptions(options, 'export.toBuffer', DEFAULT_MAX_ROWS);
    const stream = this.createStream(f, filtersJson(given), o, { kind: 'buffer' });
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return {
      data: Buffer.concat(chunks),
      truncated: stream.stats.truncated,
      returnedCount: stream.stats.rowCount,
      maxRows: o.maxRows as number,
    };
  }

  /** Queue a background export; the runner (in-process by default) writes it to the storage. */
  enqueue(...args: Parameters<ExportJobs['enqueue']>): ReturnType<ExportJobs['enqueue']> {
    return this.jobs.enqueue(...args);
  }

  /** One background export job, or null. */
  job(id: string): Promise<ExportJob | null> {
    return this.jobs.job(id);
  }

  /** Run a pending job now (what a runner or a queue worker calls). */
  runJob(id: string): Promise<ExportJob> {
    return this.jobs.runJob(id);
  }

  /** A completed job's file, for the actor who requested it only. */
  download(...args: Parameters<ExportJobs['download']>): ReturnType<ExportJobs['download']> {
    return this.jobs.download(...args);
  }

  /** Fail abandoned jobs and expire old ones with their files (retention calls this). */
  cleanup(): Promise<{ abandoned: number; expired: number }> {
    return this.jobs.cleanup();
  }

  /** @internal The stream behind stream, toBuffer and background jobs. */
  createStream(
    f: ParsedTimelineFilters,
    filters: string,
    o: ParsedStreamOptions,
    meta: { kind: 'stream' | 'buffer' | 'job'; jobId?: string; onPage?: () => Promise<void> },
  ): ExportStream {
    const ctx = getAuditContext();
    return new ExportStream(
      this.recordSource(f, o),
      o,
      {
        generatedAt: new Date().toISOString(),
        filtersJson: filters,
        kind: meta.kind,
        ...(meta.onPage ? { beforeRead: meta.onPage } : {}),
      },
      async ({ ok, stats }) => {
        await this.record(o.actor, ok, {
          verb: 'export',
          format: o.format,
          filters,
          stats,
          jobId: meta.jobId,
          correlationId: ctx?.correlationId,
          requestId: ctx?.requestId,
          jobContextId: ctx?.jobId,
        });
      },
    );
  }

  /**
   * Where the records come from: one COPY on a connection of its own when the database is a
   * node-postgres Pool of two or more connections (the fast path), else keyset pages.
   */
  private recordSource(f: ParsedTimelineFilters, o: ParsedStreamOptions): RecordSource {
    // Inside tl.transaction pages are read on that transaction (they see its writes); else the
    // COPY runs on its own connection of the pool this consistency reads from (readDb or db).
    const pool = this.tl.inTransaction() ? null : copyPool(this.tl.routing.client(o.consistency).pgPool);
    if (pool)
      return new CopyRecordSource(pool, this.q, f, {
        format: o.format,
        formulaGuard: o.formulaGuard,
        limit: o.maxRows === null ? null : o.maxRows + 1,
      });
    return new PagedRecordSource(this.run(o.consistency), this.q, f, o);
  }

  /** @internal Record who took data out: a `threadline.export` action with filters and row count. */
  async record(
    actor: ActorRef,
    ok: boolean,
    d: {
      verb: 'export' | 'download';
      format: string;
      filters: string;
      stats: Pick<ExportStats, 'rowCount' | 'truncated'>;
      jobId?: string | undefined;
      correlationId?: string | undefined;
      requestId?: string | undefined;
      jobContextId?: string | undefined;
    },
  ): Promise<void> {
    const comment = `{"format":${JSON.stringify(d.format)},"filters":${d.filters},"row_count":${d.stats.rowCount},"truncated":${d.stats.truncated}${d.jobId ? `,"export_job_id":${JSON.stringify(d.jobId)}` : ''}}`;
    await this.tl.recordAction(EXPORT_ACTION, {
      actor,
      status: ok ? 'ok' : 'error',
      verb: d.verb,
      category: 'export',
      comment,
      ...(d.correlationId ? { correlationId: d.correlationId } : {}),
      ...(d.requestId ? { requestId: d.requestId } : {}),
      ...(d.jobContextId ? { jobId: d.jobContextId } : {}),
    });
  }
}

/** The filters as written into the file and the audit action: the validated input, as JSON. */
export function filtersJson(filters: TimelineFilters | undefined): string {
  return JSON.stringify(filters ?? {});
}
