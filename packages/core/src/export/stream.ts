import { Readable } from 'node:stream';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { publishExportCompleted, publishExportFailed } from './channels.js';
import { CSV_HEADER } from './format/csv.js';
import { JSON_SUFFIX, jsonPrefix } from './format/json.js';
import type { ParsedStreamOptions } from './options.js';
import type { RecordSource } from './record-source.js';

export interface ExportStats {
  rowCount: number;
  bytes: number;
  /** True when maxRows stopped the export before every matching change was written. */
  truncated: boolean;
  durationMs: number;
}

/** Called once before the stream ends (the stream ends after it resolves) or after it failed. */
export type ExportFinish = (outcome: { ok: boolean; stats: ExportStats; error?: unknown }) => Promise<void>;

/** Records handed to the consumer per read, at most. */
const BATCH_ROWS = 10_000;

/**
 * The export as a byte stream: records are read from the source (a COPY or keyset pages) as the
 * consumer reads, so a slow consumer stops the reading (backpressure) and memory holds about one
 * batch. Destroying the stream closes the source, which releases its connection.
 */
export class ExportStream extends Readable {
  readonly stats: ExportStats = { rowCount: 0, bytes: 0, truncated: false, durationMs: 0 };
  private readonly started = Date.now();
  private reading = false;
  private ended = false;
  private headWritten = false;
  private settled = false;
  private resolveRecorded!: () => void;
  /**
   * Settles once the export's `threadline.export` action is written (or could not be): after the
   * end, or after a stop. A process that must exit when its reader goes away waits for it.
   */
  readonly recorded: Promise<void> = new Promise((resolve) => {
    this.resolveRecorded = resolve;
  });

  constructor(
    private readonly source: RecordSource,
    private readonly options: ParsedStreamOptions,
    private readonly meta: {
      generatedAt: string;
      filtersJson: string;
      kind: 'stream' | 'buffer' | 'job';
      /** Called (not awaited) before reads from the source: background jobs touch their heartbeat. */
      beforeRead?: () => Promise<void>;
    },
    private readonly finish: ExportFinish,
  ) {
    super({ highWaterMark: 64 * 1024 });
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

  private emit_(data: Buffer | string): void {
    const chunk = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (chunk.length === 0) return;
    this.stats.bytes += chunk.length;
    this.push(chunk);
  }

  private beating = false;

  /**
   * Background jobs touch their heartbeat as they read. Not awaited: a COPY holds one connection,
   * and waiting here for another one could deadlock a small pool; one beat at a time.
   */
  private beat(): void {
    if (!this.meta.beforeRead || this.beating) return;
    this.beating = true;
    this.meta
      .beforeRead()
      .catch(() => undefined)
      .finally(() => {
        this.beating = false;
      });
  }

  private head(): string {
    if (this.options.format === 'csv') return CSV_HEADER;
    if (this.options.format === 'json') return jsonPrefix(this.meta.generatedAt, this.meta.filtersJson);
    return '';
  }

  private async next(): Promise<void> {
    if (!this.headWritten) {
      this.headWritten = true;
      this.emit_(this.head());
    }
    const remaining = this.options.maxRows === null ? Infinity : this.options.maxRows - this.stats.rowCount;
    this.beat();
    // At the cap, one more record tells whether the cap truncated the export.
    const batch = await this.source.read(
      remaining > 0 ? Math.min(BATCH_ROWS, remaining) : 1,
      this.stats.rowCount === 0,
    );
    if (this.destroyed) return;
    if (batch && remaining > 0) {
      this.stats.rowCount += batch.rows;
      // Ready for the next read before pushing: push may ask for more data synchronously.
      this.reading = false;
      this.emit_(batch.data);
      return;
    }
    if (batch) {
      this.stats.truncated = true;
      this.source.close();
    }
    this.ended = true;
    if (this.options.format === 'json') this.emit_(JSON_SUFFIX);
    this.stats.durationMs = Date.now() - this.started;
    this.settled = true;
    try {
      await this.finish({ ok: true, stats: this.stats });
    } finally {
      this.resolveRecorded();
    }
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
    this.source.close();
    if (!this.settled || error) {
      // Stopped before the end: by the consumer (no error) or by a failure.
      this.stats.durationMs = Date.now() - this.started;
      const code = isThreadlineError(error) ? error.code : isAbort(error) ? 'EXPORT_ABORTED' : 'UNKNOWN';
      if (!this.settled) {
        this.settled = true;
        this.finish({ ok: false, stats: this.stats, error: error ?? undefined })
          .catch(() => undefined)
          .finally(() => this.resolveRecorded());
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
