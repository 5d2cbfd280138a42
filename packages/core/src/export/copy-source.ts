import type { Readable } from 'node:stream';
import { toThreadlineError } from '../db/db-errors.js';
import { ThreadlineError } from '../errors.js';
import { Params } from '../query/sql-parts.js';
import type { ParsedTimelineFilters } from '../query/validate.js';
import { CopyRecords } from './copy-records.js';
import type { ExportFormat } from './options.js';
import type { RecordSource } from './record-source.js';
import { exportCopySql } from './record-sql.js';

interface PoolClient {
  query(text: unknown, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }> & Readable;
  release(error?: Error | boolean): void;
  on?(event: 'error', listener: (error: Error) => void): unknown;
}
interface Pool {
  connect(): Promise<PoolClient>;
  options?: { max?: number };
}

/**
 * A pool that can give an export its own connection for the whole COPY and still serve the
 * statements the export makes meanwhile (job heartbeats, the audit action): at least two.
 */
export function copyPool(pgPool: unknown): Pool | null {
  const pool = pgPool as Pool | undefined;
  if (!pool || typeof pool.connect !== 'function') return null;
  return (pool.options?.max ?? 10) >= 2 ? pool : null;
}

/**
 * COPY placeholders: COPY takes no bind parameters, so each value is bound to a transaction-local
 * setting (`set_config($n, …, true)`) and read back with current_setting: values stay bound,
 * never spliced into the SQL text.
 */
class SettingParams extends Params {
  override add(value: unknown): string {
    this.values.push(value);
    return `current_setting('threadline.export_${this.values.length}')`;
  }
}

/**
 * The whole export as one `COPY (SELECT …) TO STDOUT` on one pooled connection (pg-copy-streams):
 * PostgreSQL streams the records without round trips, in one snapshot; the socket is read only as
 * fast as the consumer takes records (backpressure), so memory stays flat. Closing early destroys
 * the connection (the server stops the COPY) instead of returning a busy one to the pool.
 */
export class CopyRecordSource implements RecordSource {
  private client: PoolClient | null = null;
  private copy: Readable | null = null;
  private readonly records: CopyRecords;
  private ended = false;
  private failed: unknown = null;
  private wake: (() => void) | null = null;
  private closed = false;

  constructor(
    private readonly pool: Pool,
    private readonly q: string,
    private readonly filters: ParsedTimelineFilters,
    private readonly o: { format: ExportFormat; formulaGuard: boolean; limit: number | null },
  ) {
    this.records =
      o.format === 'csv'
        ? new CopyRecords('csv')
        : new CopyRecords(
            'binary',
            Buffer.from(o.format === 'json' ? ',\n' : ''),
            Buffer.from(o.format === 'ndjson' ? '\n' : ''),
          );
  }

  private async start(): Promise<void> {
    const p = new SettingParams();
    const sql = exportCopySql(this.q, p, this.filters, this.o);
    const { to } = (await import('pg-copy-streams')).default;
    const client = await this.pool.connect();
    if (this.closed) {
      client.release(); // closed while waiting for the connection: it was never used
      return;
    }
    this.client = client;
    try {
      await client.query('BEGIN READ ONLY');
      if (p.values.length > 0) {
        const sets = p.values.map((_, i) => `set_config('threadline.export_${i + 1}', $${i + 1}, true)`);
        await client.query(
          `SELECT ${sets.join(', ')}`,
          p.values.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
        );
      }
    } catch (error) {
      this.release(error);
      throw toThreadlineError(error, 'export');
    }
    if (this.closed) return; // close() released the connection meanwhile
    const copy = client.query(to(sql)) as unknown as Readable;
    this.copy = copy;
    const wake = () => {
      const w = this.wake;
      this.wake = null;
      w?.();
    };
    copy.on('readable', wake);
    copy.on('end', () => {
      this.ended = true;
      wake();
    });
    copy.on('error', (error: unknown) => {
      this.failed ??= error;
      wake();
    });
  }

  async read(limit: number, first: boolean): Promise<{ data: Buffer; rows: number } | null> {
    if (this.closed) return null;
    if (!this.client) await this.start();
    for (;;) {
      if (this.closed) return null;
      const batch = this.records.take(limit, first);
      if (batch) return batch;
      if (this.failed) {
        this.release(this.failed);
        throw toThreadlineError(this.failed, 'export');
      }
      const chunk = this.copy?.read() as Buffer | null;
      if (chunk) {
        this.records.push(chunk);
        continue;
      }
      if (this.ended) {
        await this.finish();
        return null;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  /** The COPY ended: commit the read-only transaction and give the connection back. */
  private async finish(): Promise<void> {
    const client = this.client;
    if (!client || this.closed) return;
    this.closed = true;
    try {
      await client.query('COMMIT');
      client.release();
    } catch (error) {
      client.release(error as Error);
      throw toThreadlineError(error, 'export');
    }
  }

  private release(error: unknown): void {
    const client = this.client;
    this.client = null;
    this.closed = true;
    // The pool discards a connection released with an error; it may still be closing when the
    // server ends it (a COPY cut short, a database dropped): nothing listens to it any more, and
    // an 'error' event without a listener would crash the process.
    client?.on?.('error', () => undefined);
    client?.release(
      error instanceof Error ? error : new ThreadlineError('DATABASE_ERROR', `export: ${String(error)}`),
    );
  }

  close(): void {
    if (this.closed) return;
    // Mid-COPY: the connection cannot take another statement until the COPY ends; destroying it
    // makes the server stop the COPY and roll back.
    this.copy?.removeAllListeners('readable');
    this.copy?.on('error', () => undefined);
    this.release(new ThreadlineError('EXPORT_ABORTED', 'export stopped before the end'));
  }
}
