import { toThreadlineError } from '../db/db-errors.js';
import type { ParsedTimelineFilters } from '../query/validate.js';
import type { ExportFormat } from './options.js';
import { exportPageSql } from './record-sql.js';

/** Whole export records, read as the consumer wants them. */
export interface RecordSource {
  /**
   * Up to `limit` (at least 1) whole records, already formatted, or null when there are no more.
   * `first` tells that nothing was written yet (JSON puts no separator before the first object).
   */
  read(limit: number, first: boolean): Promise<{ data: Buffer; rows: number } | null>;
  /** Stop early (the consumer went away or the export failed): release what is held. */
  close(): void;
}

type Run = (sql: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/** Pages of about this many bytes: big rows get smaller pages, so memory stays flat. */
const TARGET_PAGE_BYTES = 4 * 1024 * 1024;
const FIRST_PAGE_ROWS = 20;

/**
 * Records read page by page with the timeline's keyset query, one statement per page (any client:
 * PGlite, a single Client, a custom SqlClient). No cursor, transaction or connection is held
 * between pages. The next page is read while this one is consumed (at most one ahead).
 */
export class PagedRecordSource implements RecordSource {
  private after: { capturedAt: string; id: string } | null = null;
  private pageLimit: number;
  private done = false;
  private next: { limit: number; rows: Promise<Record<string, unknown>[]> } | null = null;
  /** Before each JSON object but the first; after each NDJSON line (CSV records end in CR LF already). */
  private readonly separator: string;
  private readonly terminator: string;

  constructor(
    private readonly run: Run,
    private readonly q: string,
    private readonly filters: ParsedTimelineFilters,
    private readonly o: { format: ExportFormat; formulaGuard: boolean; pageSize: number },
  ) {
    // Start small (rows may be megabytes each); later pages aim at TARGET_PAGE_BYTES.
    this.pageLimit = Math.min(o.pageSize, FIRST_PAGE_ROWS);
    this.separator = o.format === 'json' ? ',\n' : '';
    this.terminator = o.format === 'ndjson' ? '\n' : '';
  }

  private fetch(limit: number): Promise<Record<string, unknown>[]> {
    const { sql, params } = exportPageSql(this.q, this.filters, this.o, this.after, limit);
    const rows = this.run(sql, params).catch((error: unknown) => {
      throw toThreadlineError(error, 'export');
    });
    rows.catch(() => undefined); // reported when awaited; a closed source never awaits it
    return rows;
  }

  async read(limit: number, first: boolean): Promise<{ data: Buffer; rows: number } | null> {
    if (this.done) return null;
    const pending = this.next && this.next.limit <= limit ? this.next : null;
    this.next = null;
    const asked = pending ? pending.limit : Math.min(this.pageLimit, limit);
    const rows = await (pending ? pending.rows : this.fetch(asked));
    if (rows.length < asked) this.done = true;
    const tail = rows[rows.length - 1];
    if (!tail) return null;
    this.after = { capturedAt: tail.captured_at as string, id: tail.id as string };
    let text = '';
    for (let i = 0; i < rows.length; i++)
      text += `${first && i === 0 ? '' : this.separator}${rows[i]!.record as string}${this.terminator}`;
    const data = Buffer.from(text, 'utf8');
    this.pageLimit = Math.max(
      1,
      Math.min(this.o.pageSize, Math.floor(TARGET_PAGE_BYTES / (data.length / rows.length))),
    );
    if (!this.done && rows.length === limit && limit === asked) {
      // The consumer will ask again: read the next page while this one is written.
      this.next = { limit: this.pageLimit, rows: this.fetch(this.pageLimit) };
    }
    return { data, rows: rows.length };
  }

  close(): void {
    this.done = true;
    this.next = null;
  }
}
