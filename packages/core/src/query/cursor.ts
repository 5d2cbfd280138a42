import { createHash } from 'node:crypto';
import { ThreadlineError } from '../errors.js';
import { toInstant } from './instant.js';

const MAX_BIGINT = 9223372036854775807n;

interface CursorData {
  v: 1;
  /** captured_at as an exact timestamp string */
  t: string;
  /** change id */
  i: string;
  /** fingerprint of the query the cursor belongs to */
  q: string;
}

export function queryFingerprint(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('base64url').slice(0, 12);
}

export function encodeCursor(capturedAt: string, id: string, fingerprint: string): string {
  const data: CursorData = { v: 1, t: capturedAt, i: id, q: fingerprint };
  return Buffer.from(JSON.stringify(data), 'utf8').toString('base64url');
}

/** Decode a cursor made for the same query; anything else is a ThreadlineError('QUERY_INVALID'). */
export function decodeCursor(
  cursor: unknown,
  fingerprint: string,
): { capturedAt: string; id: string } | null {
  if (cursor === undefined || cursor === null) return null;
  const bad = (why: string) =>
    new ThreadlineError(
      'QUERY_INVALID',
      `invalid cursor (${why}); pass back the cursor string from the previous page unchanged, or omit it to start over`,
    );
  if (
    typeof cursor !== 'string' ||
    cursor.length === 0 ||
    cursor.length > 512 ||
    !/^[A-Za-z0-9_-]+$/.test(cursor)
  )
    throw bad('not a cursor string');
  let data: Partial<CursorData>;
  try {
    data = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorData>;
  } catch {
    throw bad('unreadable');
  }
  if (
    data?.v !== 1 ||
    typeof data.t !== 'string' ||
    !(
      INFINITE.has(data.t) || /^(\d{4}|[+-]\d{6})-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$/.test(data.t)
    ) ||
    typeof data.i !== 'string' ||
    !/^\d{1,19}$/.test(data.i) ||
    BigInt(data.i) > MAX_BIGINT
  ) {
    throw bad('malformed');
  }
  const expanded = EXPANDED.exec(data.t);
  if (expanded) {
    if (Number.isNaN(Date.parse(data.t))) throw bad('malformed');
  } else if (!INFINITE.has(data.t)) {
    try {
      toInstant(data.t, 'cursor');
    } catch {
      throw bad('malformed');
    }
  }
  if (data.q !== fingerprint) throw bad('it belongs to a different query');
  return { capturedAt: expanded ? pgExpandedYear(expanded) : data.t, id: data.i };
}

/** A hand-edited infinite captured_at, as a change's capturedAt spells it (rows.ts); PostgreSQL reads it as is. */
const INFINITE = new Set(['infinity', '-infinity']);

/** An ISO 8601 expanded year (`+012000-…`, `-000043-…`: a hand-edited row's instant, see isoSql). */
const EXPANDED = /^([+-]\d{6})(-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z)$/;

/** The same instant as text PostgreSQL reads (it has no signed years: `12000-…`, `0044-… BC`). */
function pgExpandedYear(m: RegExpExecArray): string {
  const astronomical = Number(m[1]);
  const year = astronomical <= 0 ? 1 - astronomical : astronomical;
  return `${String(year).padStart(4, '0')}${m[2]}${astronomical <= 0 ? ' BC' : ''}`;
}
