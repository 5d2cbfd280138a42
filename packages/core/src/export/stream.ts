import { Readable } from 'node:stream';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { publishExportCompleted, publishExportFailed } from './channels.js';
import type { ExportRow } from './columns.js';
import { CSV_HEADER, csvRows } from './format/csv.js';
import { JSON_SUFFIX, jsonPrefix, jsonRows } from './format/json.js';
import { ndjsonRows } from './format/ndjson.js';
import type { ParsedStreamOptions } from './options.js';

/** Reads one page of export rows newest first, strictly after `after` (null: from the newest). */
export type PageReader = (
  after: { capturedAt: string; id: string } | null,
  limit: number,
) => Promise<ExportRow[]>;

export interface ExportStats {
  rowCount: number;
  bytes: number;
  /** True when maxRows stopped the export before every matching change was written. */
  truncated: boolean;
  durationMs: number;
}

/** Called once before the stream ends (the stream ends after it resolves) or after it failed. */
export type ExportFinish = (outcome: { ok: boolean; stats: ExportStats; error?: unknown }) => Promise<void>;

/** Pages of about this many bytes: big rows get smaller pages, so memory stays flat. */
const TARGET_PAGE_BYTES = 4 * 1024 * 1024;
const FIRST_PAGE_ROWS = 20;

/**
 * The export as a byte stream: keyset-paged from the database one page per read, so a slow
 * consumer stops the paging (backpressure) and memory holds about one page. No database cursor
 * or connection is held between pages: destroying the stream just stops asking for more.
 */
export class ExportStream extends Readable {
  readonly stats: ExportStats = { rowCount: 0, bytes: 0, truncated: false, durationMs: 0 };
  private readonly started = Date.now();
  private after: { capturedAt: string; id: string } | null = null;
  private reading = false;
  private ended = false;
  private pageLimit: number;
  private settled = false;
  private prefetched: { limit: number; rows: Promise<ExportRow[]> } | null = null;

  constructor(
    private readonly readPage: PageReader,
    private readonly options: ParsedStreamOptions,
    private readonly meta: { generatedAt: string; filtersJson: string; kind: 'stream' | 'buffer' | 'job' },
    private readonly finish: ExportFinish,
  ) {
    super({ highWaterMark: 64 * 1024 });
    // Start small (rows may be megabytes each); later pages aim at TARGET_PAGE_BYTES.
    this.pageLimit = Math.min(options.pageSize, FIRST_PAGE_ROWS);
  }

  override _read(): void {
    if (this.reading || this.ended) return;
    this.reading = true;
    this.next().catch((error: unknown) => {
      this.reading = false;
      this.destroy(
        isThreadlineError(error)
          ? error
          : new ThreadlineError('DATABASE_ERROR', `export: ${String(error)}`, { cause: error }),
      );
    });
  }

  /**
   * Start reading the next page while this one is formatted and consumed, so the database and
   * this process work at the same time. At most one page is read ahead.
   */
  private prefetch(remaining: number): void {
    const limit = Math.min(this.pageLimit, remaining + 1);
    if (limit <= 0) return;
    const rows = this.readPage(this.after, limit);
    rows.catch(() => undefined); // reported when awaited; a destroyed stream never awaits it
    this.prefetched = { limit, rows };
  }

  private emitText(text: string): void {
    if (text === '') return;
    const chunk = Buffer.from(text, 'utf8');
    this.stats.bytes += chunk.length;
    this.push(chunk);
  }

  private async next(): Promise<void> {
    const first = this.after === null && this.stats.rowCount === 0;
    let head = '';
    if (first && !this.stats.truncated) {
      if (this.options.format === 'csv') head = CSV_HEADER;
      else if (this.options.format === 'json')
        head = jsonPrefix(this.meta.generatedAt, this.meta.filtersJson);
    }
    const remaining = this.options.maxRows === null ? Infinity : this.options.maxRows - this.stats.rowCount;
    // One row more than the cap tells whether the cap truncated the export.
    const prefetched = this.prefetched;
    this.prefetched = null;
    const limit = prefetched ? prefetched.limit : Math.min(this.pageLimit, remaining + 1);
    const rows = prefetched ? await prefetched.rows : limit > 0 ? await this.readPage(this.after, limit) : [];
    if (this.destroyed) return;
    const last = rows.length < limit;
    const kept = rows.length > remaining ? rows.slice(0, remaining) : rows;
    if (rows.length > remaining) this.stats.truncated = true;
    const tail = kept[kept.length - 1];
    if (tail) this.after = { capturedAt: tail.captured_at as string, id: tail.id as string };
    if (!last && !this.stats.truncated) this.prefetch(remaining - kept.length);
    const body =
      this.options.format === 'csv'
        ? csvRows(kept, this.options.formulaGuard)
        : this.options.format === 'ndjson'
          ? ndjsonRows(kept)
          : jsonRows(kept, this.stats.rowCount === 0);
    this.stats.rowCount += kept.length;
    if (kept.length > 0) {
      const perRow = body.length / kept.length;
      this.pageLimit = Math.max(1, Math.min(this.options.pageSize, Math.floor(TARGET_PAGE_BYTES / perRow)));
    }
    const done = last || this.stats.truncated || kept.length === 0;
    if (!done) {
      // Ready for the next read before pushing: push may ask for more data synchronously.
      this.reading = false;
      this.emitText(head + body);
      return;
    }
    this.ended = true;
    this.emitText(head + body + (this.options.format === 'json' ? JSON_SUFFIX : ''));
    this.stats.durationMs = Date.now() - this.started;
    this.settled = true;
    await this.finish({ ok: true, stats: this.stats });
    if (this.destroyed) return;
    publishExportCompleted(this.telemetry());
    this.push(null);
  }

  private telemetry(errorCode?: string) {
    return {
      format: this.options.format,
      kind: this.meta.kind,
      rowCount: this.stats.rowCount,
      bytes: this.stats.bytes,
      durationMs: this.stats.durationMs,
      truncated: this.stats.truncated,
      ...(errorCode ? { errorCode } : {}),
    };
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.settled || error) {
      // Stopped before the end: by the consumer (no error) or by a failure.
      this.stats.durationMs = Date.now() - this.started;
      const code = isThreadlineError(error) ? error.code : isAbort(error) ? 'EXPORT_ABORTED' : 'UNKNOWN';
      if (!this.settled) {
        this.settled = true;
        this.finish({ ok: false, stats: this.stats, error: error ?? undefined }).catch(() => undefined);
      }
      publishExportFailed(this.telemetry(code));
    }
    callback(error);
  }
}

/** Destroyed by the consumer: destroy() with no error, or the abort of a loop that stopped early. */
function isAbort(error: Error | null): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    !error || error.name === 'AbortError' || code === 'ABORT_ERR' || code === 'ERR_STREAM_PREMATURE_CLOSE'
  );
}
