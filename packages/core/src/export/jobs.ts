import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { quoteIdent } from '../capture/identifiers.js';
import { ActorRef } from '../context/actor-ref.js';
import { toThreadlineError } from '../db/db-errors.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { invalid, parseTimelineFilters, readFilters, type TimelineFilters } from '../query/validate.js';
import { safeText } from '../safe-text.js';
import type { Threadline } from '../threadline.js';
import type { ThreadlineExport } from './export.js';
import { filtersJson } from './export.js';
import { type ExportJob, isUuid, JOB_COLUMNS, type JobRow, toJob } from './job-rows.js';
import {
  checkKeys,
  DEFAULT_EXPORT_PAGE_SIZE,
  type ExportFormat,
  exportActor,
  parseFormat,
} from './options.js';
import { type ExportStorage, LocalDirectoryStorage } from './storage.js';

/** Runs a background export job somewhere: in this process (default) or a queue's worker. */
export interface ExportRunner {
  run(jobId: string): void | Promise<void>;
}

export interface ExportJobsConfig {
  storage?: ExportStorage;
  runner?: ExportRunner;
  /** How long a finished job and its file are kept (default 7 days). */
  ttlMs?: number;
  /** A running job whose runner has not reported for this long is failed by cleanup (default 10 min). */
  staleAfterMs?: number;
}

export const DEFAULT_EXPORT_TTL_MS = 7 * 24 * 3600 * 1000;
const DEFAULT_STALE_AFTER_MS = 10 * 60 * 1000;
const HEARTBEAT_MS = 15_000;

/** Background exports: enqueue, run, download, cleanup (the export_jobs table and a storage). */
export class ExportJobs {
  private storage: ExportStorage | null = null;
  private runner: ExportRunner;
  private ttlMs = DEFAULT_EXPORT_TTL_MS;
  private staleAfterMs = DEFAULT_STALE_AFTER_MS;
  private readonly inProcess = new Set<Promise<unknown>>();

  constructor(
    private readonly tl: Threadline,
    private readonly exporter: ThreadlineExport,
  ) {
    this.runner = {
      run: (jobId) => {
        const run = this.runJob(jobId).catch(() => undefined);
        this.inProcess.add(run);
        void run.finally(() => this.inProcess.delete(run));
      },
    };
  }

  configure(config: ExportJobsConfig): void {
    const c = checkKeys(config, ['storage', 'runner', 'ttlMs', 'staleAfterMs'], 'export.configure');
    for (const key of ['ttlMs', 'staleAfterMs'] as const) {
      const v = c[key];
      if (v !== undefined && (typeof v !== 'number' || !Number.isInteger(v) || v < 1000))
        throw new ThreadlineError(
          'CONFIG_INVALID',
          `export.configure: ${key} must be a whole number of milliseconds, at least 1000`,
        );
    }
    const o = c as ExportJobsConfig;
    if (o.storage) this.storage = o.storage;
    if (o.runner) this.runner = o.runner;
    if (o.ttlMs) this.ttlMs = o.ttlMs;
    if (o.staleAfterMs) this.staleAfterMs = o.staleAfterMs;
  }

  /** Resolves when every job started by the in-process runner has finished. */
  async idle(): Promise<void> {
    while (this.inProcess.size > 0) await Promise.all([...this.inProcess]);
  }

  private get q(): string {
    return quoteIdent(this.tl.schema);
  }

  private get store(): ExportStorage {
    this.storage ??= new LocalDirectoryStorage(join(process.cwd(), 'threadline-exports'));
    return this.storage;
  }

  private async rows(sql: string, params: unknown[], what: string): Promise<JobRow[]> {
    try {
      return (await this.tl.client.query<JobRow>(sql, params)).rows;
    } catch (error) {
      throw toThreadlineError(error, what);
    }
  }

  /** Queue an export of the changes matching `filters`; the runner writes it to the storage. */
  async enqueue(
    filters: TimelineFilters,
    options: { format: ExportFormat; requestedBy: ActorRef | string; formulaGuard?: boolean },
  ): Promise<ExportJob> {
    const given = readFilters(filters, 'export.enqueue');
    parseTimelineFilters(given);
    const o = checkKeys(options, ['format', 'requestedBy', 'formulaGuard'], 'export.enqueue options');
    const format = parseFormat(o.format, 'export.enqueue');
    if (o.formulaGuard !== undefined && typeof o.formulaGuard !== 'boolean')
      throw invalid('export.enqueue: formulaGuard must be true or false');
    if (o.requestedBy === undefined || o.requestedBy === null)
      throw new ThreadlineError(
        'INVALID_ACTOR',
        'export.enqueue: requestedBy is required (the actor who may download the file), e.g. ActorRef.user(id)',
      );
    const actor = exportActor(o.requestedBy, 'export.enqueue: requestedBy');
    if (actor.type === 'anonymous')
      throw new ThreadlineError(
        'INVALID_ACTOR',
        'export.enqueue: requestedBy must identify someone (not anonymous): only they can download the file',
      );
    const [row] = await this.rows(
      `INSERT INTO ${this.q}.export_jobs AS j (filters, format, formula_guard, requested_by, expires_at)
        VALUES ($1::jsonb, $2, $3, $4::jsonb, now() + make_interval(secs => $5::double precision / 1000))
        RETURNING ${JOB_COLUMNS}`,
      [filtersJson(given), format, o.formulaGuard !== false, ActorRef.toJSON(actor), this.ttlMs],
      'export.enqueue',
    );
    const job = toJob(row!);
    try {
      await this.runner.run(job.id);
    } catch (error) {
      return this.fail(job.id, error, 'export.enqueue');
    }
    return job;
  }

  /** One job, or null when there is none with this id. */
  async job(id: string): Promise<ExportJob | null> {
    if (!isUuid(id))
      throw invalid(
        `export: job id must be a UUID like 0b9f6c1e-…, got ${JSON.stringify(safeText(id).slice(0, 40))}`,
      );
    const [row] = await this.rows(
      `SELECT ${JOB_COLUMNS} FROM ${this.q}.export_jobs j WHERE j.id = $1::uuid`,
      [id],
      'export.job',
    );
    return row ? toJob(row) : null;
  }

  /**
   * Run a pending job: stream it to the storage and mark it completed (or failed). A job that
   * is not pending (already run, running elsewhere, expired) is returned as it is.
   */
  async runJob(id: string): Promise<ExportJob> {
    if (!isUuid(id))
      throw invalid(`export.runJob: job id must be a UUID, got ${JSON.stringify(safeText(id).slice(0, 40))}`);
    const [claimed] = await this.rows(
      `UPDATE ${this.q}.export_jobs j SET status = 'running', started_at = now(), heartbeat_at = now(), error = NULL
        WHERE j.id = $1::uuid AND j.status = 'pending' RETURNING ${JOB_COLUMNS}`,
      [id],
      'export.runJob',
    );
    if (!claimed) {
      const current = await this.job(id);
      if (!current) throw new ThreadlineError('NOT_FOUND', `export.runJob: no export job ${id}`);
      return current;
    }
    const job = toJob(claimed);
    let beat = Date.now();
    try {
      const filters = parseTimelineFilters(job.filters);
      const stream = this.exporter.createStream(
        filters,
        JSON.stringify(job.filters),
        {
          format: job.format,
          pageSize: DEFAULT_EXPORT_PAGE_SIZE,
          formulaGuard: job.formulaGuard,
          maxRows: null,
          actor: job.requestedBy,
          // The pages come from readDb (when configured); every bookkeeping write above and below goes to db.
          consistency: 'replica',
        },
        {
          kind: 'job',
          jobId: job.id,
          onPage: async () => {
            if (Date.now() - beat < HEARTBEAT_MS) return;
            beat = Date.now();
            await this.rows(
              `UPDATE ${this.q}.export_jobs SET heartbeat_at = now() WHERE id = $1::uuid`,
              [id],
              'export.runJob',
            );
          },
        },
      );
      const ref = await this.store.put(stream, { jobId: job.id, extension: job.format });
      const [done] = await this.rows(
        `UPDATE ${this.q}.export_jobs j SET status = 'completed', row_count = $2, bytes = $3, file_ref = $4,
           finished_at = now(), expires_at = now() + make_interval(secs => $5::double precision / 1000)
         WHERE j.id = $1::uuid AND j.status = 'running' RETURNING ${JOB_COLUMNS}`,
        [id, stream.stats.rowCount, stream.stats.bytes, ref, this.ttlMs],
        'export.runJob',
      );
      if (!done) {
        // Marked failed meanwhile (cleanup thought this runner dead): its file is not served.
        await this.store.delete(ref).catch(() => undefined);
        return (await this.job(id)) as ExportJob;
      }
      return toJob(done);
    } catch (error) {
      return this.fail(id, error, 'export.runJob');
    }
  }

  private async fail(id: string, error: unknown, what: string): Promise<ExportJob> {
    const code = isThreadlineError(error) ? error.code : 'UNKNOWN';
    const message = isThreadlineError(error) ? error.message : 'unexpected error';
    const [row] = await this.rows(
      `UPDATE ${this.q}.export_jobs j SET status = 'failed', error = $2, finished_at = now(),
         expires_at = now() + make_interval(secs => $3::double precision / 1000)
       WHERE j.id = $1::uuid RETURNING ${JOB_COLUMNS}`,
      [id, `${code}: ${message}`.slice(0, 2000), this.ttlMs],
      what,
    );
    return toJob(row!);
  }

  /**
   * The file of a completed job, for the actor who requested it only. Recorded as a
   * `threadline.export` action (verb `download`).
   */
  async download(
    id: string,
    options: { actor: ActorRef | string },
  ): Promise<{ job: ExportJob; stream: Readable }> {
    const o = checkKeys(options, ['actor'], 'export.download options');
    const actor = exportActor(o.actor, 'export.download');
    if (!isUuid(id))
      throw invalid(
        `export.download: job id must be a UUID like 0b9f6c1e-4f0a-4c52-9a51-2f1f2a9d8e11, got ${JSON.stringify(safeText(id).slice(0, 40))}`,
      );
    const job = await this.job(id);
    // Another actor's job is reported exactly like a missing one: ids of other people's exports leak nothing.
    if (!job || !ActorRef.equals(job.requestedBy, actor))
      throw new ThreadlineError(
        'NOT_FOUND',
        `export.download: no export job ${id} requested by ${ActorRef.format(actor)}`,
      );
    if (job.status === 'expired' || (job.status === 'completed' && Date.parse(job.expiresAt) <= Date.now()))
      throw new ThreadlineError(
        'EXPORT_EXPIRED',
        `export.download: export job ${id} expired at ${job.expiresAt} and its file was deleted; run the export again`,
      );
    if (job.status !== 'completed' || !job.fileRef)
      throw new ThreadlineError(
        'EXPORT_NOT_READY',
        job.status === 'failed'
          ? `export.download: export job ${id} failed (${job.error ?? 'no reason recorded'}); run the export again`
          : `export.download: export job ${id} is ${job.status}; wait until it is completed`,
      );
    const stream = await this.store.get(job.fileRef);
    await this.exporter
      .record(actor, true, {
        verb: 'download',
        format: job.format,
        filters: JSON.stringify(job.filters),
        stats: { rowCount: job.rowCount ?? 0, truncated: false },
        jobId: job.id,
      })
      .catch((error) => {
        stream.destroy();
        throw error;
      });
    return { job, stream };
  }

  /**
   * Fail jobs whose runner stopped reporting (a dead process), then expire finished jobs past
   * their expiry: their files are deleted and their status becomes `expired`.
   */
  async cleanup(): Promise<{ abandoned: number; expired: number }> {
    const abandoned = await this.rows(
      `UPDATE ${this.q}.export_jobs j SET status = 'failed', finished_at = now(),
         error = 'ABANDONED: the process running this export stopped (no progress since ' || to_char(j.heartbeat_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || '); run the export again',
         expires_at = now() + make_interval(secs => $2::double precision / 1000)
       WHERE j.status = 'running' AND j.heartbeat_at < now() - make_interval(secs => $1::double precision / 1000)
       RETURNING ${JOB_COLUMNS}`,
      [this.staleAfterMs, this.ttlMs],
      'export.cleanup',
    );
    const due = await this.rows(
      `SELECT ${JOB_COLUMNS} FROM ${this.q}.export_jobs j WHERE j.status IN ('pending', 'completed', 'failed') AND j.expires_at <= now()`,
      [],
      'export.cleanup',
    );
    let expired = 0;
    for (const row of due) {
      // The file goes first: a row marked expired never points at a file that is still there.
      if (row.file_ref) await this.store.delete(row.file_ref);
      const updated = await this.rows(
        `UPDATE ${this.q}.export_jobs j SET status = 'expired', file_ref = NULL WHERE j.id = $1::uuid AND j.status = $2 RETURNING j.id::text AS id`,
        [row.id, row.status],
        'export.cleanup',
      );
      expired += updated.length;
    }
    return { abandoned: abandoned.length, expired };
  }
}
