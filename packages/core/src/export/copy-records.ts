/**
 * Splits the bytes of a COPY TO STDOUT into whole records, however the bytes are chunked:
 * - `csv`: COPY's CSV output; a record ends at an LF outside quotes, written out with CR LF
 *   (RFC 4180), quotes and everything else byte for byte;
 * - `binary`: binary COPY of one text-like column (row_to_json); each value is written between
 *   `prefix` and `suffix` (`\n` after each NDJSON line, `,\n` between JSON objects).
 */
import { ThreadlineError } from '../errors.js';
export class CopyRecords {
  private pending: Buffer = Buffer.alloc(0);
  private headerDone = false;
  private inQuotes = false;
  /** CSV: how far `pending` was scanned without finding a record end. */
  private scanned = 0;
  /** The trailer of a binary COPY was read: no more records. */
  ended = false;

  constructor(
    private readonly mode: 'csv' | 'binary',
    private readonly prefix: Buffer = Buffer.alloc(0),
    private readonly suffix: Buffer = Buffer.alloc(0),
  ) {}

  push(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
  }

  /** Bytes received but not yet a whole record. */
  get buffered(): number {
    return this.pending.length;
  }

  /** Up to `limit` whole records as one buffer, or null when no whole record is buffered. */
  take(limit: number, firstRecord: boolean): { data: Buffer; rows: number } | null {
    return this.mode === 'csv' ? this.takeCsv(limit) : this.takeBinary(limit, firstRecord);
  }

  private takeCsv(limit: number): { data: Buffer; rows: number } | null {
    const buf = this.pending;
    const ends: number[] = [];
    let i = this.scanned;
    let inQuotes = this.inQuotes;
    for (; i < buf.length && ends.length < limit; i++) {
      const b = buf[i];
      if (b === 34) inQuotes = !inQuotes;
      else if (b === 10 && !inQuotes) ends.push(i);
    }
    this.inQuotes = inQuotes;
    if (ends.length === 0) {
      this.scanned = i;
      return null;
    }
    const used = ends[ends.length - 1]! + 1;
    const data = Buffer.allocUnsafe(used + ends.length);
    let from = 0;
    let to = 0;
    for (const end of ends) {
      to += buf.copy(data, to, from, end);
      data[to++] = 13;
      data[to++] = 10;
      from = end + 1;
    }
    this.pending = buf.subarray(used);
    this.scanned = i - used;
    return { data, rows: ends.length };
  }

  private takeBinary(limit: number, firstRecord: boolean): { data: Buffer; rows: number } | null {
    let buf = this.pending;
    if (!this.headerDone) {
      // PGCOPY\n\377\r\n\0, flags (int32), header extension length (int32) and extension.
      if (buf.length < 19) return null;
      const extension = buf.readUInt32BE(15);
      if (buf.length < 19 + extension) return null;
      buf = buf.subarray(19 + extension);
      this.pending = buf;
      this.headerDone = true;
    }
    const starts: number[] = [];
    const lengths: number[] = [];
    let at = 0;
    let bytes = 0;
    while (starts.length < limit && buf.length - at >= 2) {
      const fields = buf.readInt16BE(at);
      if (fields === -1) {
        this.ended = true;
        at += 2;
        break;
      }
      if (buf.length - at < 6) break;
      const length = buf.readInt32BE(at + 2);
      if (length < 0) throw new ThreadlineError('DATABASE_ERROR', 'export: a record was NULL');
      if (buf.length - at - 6 < length) break;
      starts.push(at + 6);
      lengths.push(length);
      bytes += length;
      at += 6 + length;
    }
    this.pending = buf.subarray(at);
    if (starts.length === 0) return null;
    const data = Buffer.allocUnsafe(bytes + starts.length * (this.prefix.length + this.suffix.length));
    let to = 0;
    for (let r = 0; r < starts.length; r++) {
      if (!(firstRecord && r === 0)) to += this.prefix.copy(data, to);
      to += buf.copy(data, to, starts[r]!, starts[r]! + lengths[r]!);
      to += this.suffix.copy(data, to);
    }
    return { data: data.subarray(0, to), rows: starts.length };
  }
}
