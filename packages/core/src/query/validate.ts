import { formatTableName, parseTableName, type TableName } from '../capture/identifiers.js';
import { ACTOR_TYPES, ActorRef, type ActorType } from '../context/actor-ref.js';
import { LOOKUP_ID_RULE, lookupId, trimSpaces } from '../context/id-rule.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { isDate, isObjectInput, readInput } from '../plain-input.js';
import { describeValue, safeText } from '../safe-text.js';
import { toInstant } from './instant.js';
import type { PageOptions, RowKey, TimeWindow } from './types.js';

const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

export function invalid(message: string): ThreadlineError {
  return new ThreadlineError('QUERY_INVALID', message);
}

/**
 * An options object's keys, all known, read once into a plain copy (readInput): the copy is what
 * the caller validates and uses. Absent (undefined) or null gives {}; with `refuseNull`
 * (operations that delete or change data) null is refused too: such a call names its options or
 * leaves them out.
 */
export function checkKeys(
  value: unknown,
  allowed: readonly string[],
  what: string,
  refuseNull = false,
): Record<string, unknown> {
  if (value === null && refuseNull) throw invalid(`${what} must be an object (or left out), got null`);
  if (value === undefined || value === null) return {};
  if (!isObjectInput(value)) throw invalid(`${what} must be an object`);
  const copy = readInput(value, what);
  for (const key of Object.keys(copy)) {
    if (!allowed.includes(key))
      throw invalid(`${what}: unknown key "${key.slice(0, 40)}"; known keys are ${allowed.join(', ')}`);
  }
  return copy;
}

/**
 * An optional flag: true, false or absent. Anything else ('true', 1, 'yes') is refused rather than
 * read as truthy or falsy, so a mistyped value never picks an operation's destructive branch.
 */
export function parseFlag(value: unknown, name: string, what: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean')
    throw invalid(`${what}: ${name} must be true or false, got ${describeValue(value)}`);
  return value;
}

/** An optional whole number from `min` to `max`; absent gives `fallback`. */
export function parseWholeNumber(
  value: unknown,
  name: string,
  what: string,
  range: { min: number; max: number; fallback: number },
): number {
  if (value === undefined) return range.fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < range.min || value > range.max)
    throw invalid(
      `${what}: ${name} must be a whole number from ${range.min} to ${range.max}, got ${describeValue(value)}`,
    );
  return value;
}

/**
 * A Date or an ISO 8601 string → an ISO string with an explicit zone that PostgreSQL parses
 * exactly (microseconds kept). A string without a zone is taken as UTC; a date alone as midnight UTC.
 */
export function parseInstant(value: unknown, what: string): string {
  return toInstant(value, what).text;
}

export function parseWindow(options: TimeWindow, what: string): { from: string | null; to: string | null } {
  const from =
    options.from === undefined || options.from === null ? null : toInstant(options.from, `${what}: from`);
  const to = options.to === undefined || options.to === null ? null : toInstant(options.to, `${what}: to`);
  if (from && to && from.micros > to.micros)
    throw invalid(`${what}: from (${from.text}) is after to (${to.text})`);
  return { from: from?.text ?? null, to: to?.text ?? null };
}

export function parsePageSize(value: unknown, what: string): number {
  if (value === undefined || value === null) return DEFAULT_PAGE_SIZE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw invalid(`${what}: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return value;
}

export function parseActor(value: unknown, what: string): ActorRef {
  if (typeof value === 'string' && value.trim() === 'none')
    throw invalid(`${what}: actor "none" is not an actor; pass actor: null for changes with no actor bound`);
  try {
    return typeof value === 'string' && !value.trim().startsWith('{')
      ? ActorRef.fromString(value)
      : ActorRef.parse(value);
  } catch (error) {
    const stored = storedActor(value);
    if (stored) return stored;
    throw invalid(
      `${what}: actor ${isThreadlineError(error) ? error.message : 'is invalid'} (use ActorRef.user(id) or "type:id")`,
    );
  }
}

/**
 * An actor to look up whose id today's id rule refuses but an earlier release stored (lookupId):
 * `type:id`, or {type, id} as an object or JSON text, of a known type other than anonymous.
 */
function storedActor(value: unknown): ActorRef | undefined {
  try {
    let type: unknown;
    let id: unknown;
    // Only U+0020 trimmed, as lookupId does: a tab or an NBSP at the end is part of what is looked for.
    const text = typeof value === 'string' ? trimSpaces(value) : undefined;
    if (text !== undefined && !text.startsWith('{')) {
      const colon = text.indexOf(':');
      [type, id] = colon > 0 ? [text.slice(0, colon), text.slice(colon + 1)] : [undefined, undefined];
    } else {
      const record = (text !== undefined ? JSON.parse(text) : value) as Record<string, unknown> | null;
      if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined;
      if (Object.keys(record).some((k) => k !== 'type' && k !== 'id')) return undefined;
      [type, id] = [record.type, record.id];
    }
    const clean = lookupId(id);
    if (typeof type !== 'string' || clean === undefined || type === 'anonymous') return undefined;
    if (!(ACTOR_TYPES as readonly string[]).includes(type)) return undefined;
    return { type: type as Exclude<ActorType, 'anonymous'>, id: clean };
  } catch {
    return undefined;
  }
}

export function parseCorrelationId(value: unknown, what: string): string {
  const clean = lookupId(value);
  if (clean === undefined) {
    throw invalid(`${what}: correlationId must be ${LOOKUP_ID_RULE}`);
  }
  return clean;
}

export function parseTable(value: unknown, schema: unknown, what: string): TableName {
  if (schema !== undefined && (typeof schema !== 'string' || schema.trim() === ''))
    throw invalid(`${what}: tableSchema must be a non-empty string`);
  if (typeof value !== 'string' || value.trim() === '')
    throw invalid(`${what}: table must be a table name like "posts" or "billing.invoices"`);
  let table: TableName;
  try {
    table = parseTableName(value);
  } catch (error) {
    throw invalid(`${what}: ${isThreadlineError(error) ? error.message : 'invalid table name'}`);
  }
  // A table name without a schema means public.NAME everywhere; tableSchema never re-homes it.
  if (schema !== undefined && table.schema !== schema) {
    throw invalid(
      `${what}: table "${value.slice(0, 80)}" is ${formatTableName(table)} but tableSchema is ${safeText(schema).slice(0, 80)}; name the table with its schema (${formatTableName({ schema: safeText(schema), name: table.name })}) or leave tableSchema out`,
    );
  }
  return table;
}

/** A key as the JSON the database function row_key() takes. */
export function keyJson(key: RowKey, what: string): string {
  const scalar = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw invalid(`${what}: key values must be finite numbers`);
      // 2 ** 53 + 1 arrives here as 2 ** 53: the digits are already lost, so no row is guessed.
      if (Number.isInteger(v) && !Number.isSafeInteger(v))
        throw invalid(
          `${what}: the key value ${v} is beyond JavaScript's exact integers (±${Number.MAX_SAFE_INTEGER}); pass it as a string or a bigint, e.g. "9007199254740993"`,
        );
      return v;
    }
    if (typeof v === 'string') {
      // PostgreSQL text cannot hold U+0000, so no row has such a key.
      if (v.includes('\u0000'))
        throw invalid(`${what}: key values cannot contain U+0000 (NUL); no row has such a key`);
      // A lone UTF-16 surrogate has no UTF-8 form (PostgreSQL refuses it in json): no row has it.
      if (/\p{Cs}/u.test(v))
        throw invalid(
          `${what}: key values must be well-formed Unicode (a lone UTF-16 surrogate); no row has such a key`,
        );
      return v;
    }
    if (typeof v === 'boolean') return v;
    if (isDate(v)) {
      if (Number.isNaN(v.getTime())) throw invalid(`${what}: a key value is an invalid Date`);
      return v.toISOString();
    }
    throw invalid(`${what}: key values must be strings, numbers, bigints, booleans or Dates`);
  };
  if (key === null || key === undefined)
    throw invalid(`${what}: a key is required (a value, or an object naming every key column)`);
  if (typeof key === 'object' && !isDate(key)) {
    if (!isObjectInput(key))
      throw invalid(`${what}: give a composite key as an object naming every key column, not an array`);
    return JSON.stringify(
      Object.fromEntries(
        Object.entries(readInput(key, `${what}: the key`)).map(([k, v]) => {
          if (k.includes('\u0000')) throw invalid(`${what}: key column names cannot contain U+0000 (NUL)`);
          if (/\p{Cs}/u.test(k))
            throw invalid(`${what}: key column names must be well-formed Unicode (a lone UTF-16 surrogate)`);
          return [k, scalar(v)];
        }),
      ),
    );
  }
  return JSON.stringify(scalar(key));
}

export interface TimelineFilters extends TimeWindow {
  table?: string;
  tableSchema?: string;
  /** An actor, or null for changes whose transaction had no actor bound. */
  actor?: ActorRef | string | null;
  correlationId?: string;
  /** Every transaction of one request (audit_transactions.request_id). */
  requestId?: string;
  /** Every transaction of one job (audit_transactions.job_id). */
  jobId?: string;
}

export interface ParsedTimelineFilters {
  table: TableName | null;
  tableSchema: string | null;
  /** 'none' selects transactions without an actor. */
  actor: ActorRef | 'none' | null;
  correlationId: string | null;
  requestId: string | null;
  jobId: string | null;
  from: string | null;
  to: string | null;
}

const TIMELINE_FILTER_KEYS = [
  'table',
  'tableSchema',
  'actor',
  'from',
  'to',
  'correlationId',
  'requestId',
  'jobId',
] as const;

const given = (v: unknown) => v !== undefined && v !== null;

function parseContextIdFilter(value: unknown, name: string): string | null {
  if (!given(value)) return null;
  const clean = lookupId(value);
  if (clean === undefined) {
    throw invalid(`timeline: ${name} must be ${LOOKUP_ID_RULE}`);
  }
  return clean;
}

/**
 * The timeline's filters, validated. `extra`: keys a caller adds to the same object (tl.activity's
 * `bucket`), accepted here and left to that caller to validate; `what` names the caller in errors
 * (actorHistory reads through the timeline).
 */
export function parseTimelineFilters(
  filters: unknown,
  extra: readonly string[] = [],
  what = 'timeline',
): ParsedTimelineFilters {
  const f = checkKeys(filters, [...TIMELINE_FILTER_KEYS, ...extra], `${what} filters`);
  const table = given(f.table) ? parseTable(f.table, f.tableSchema ?? undefined, what) : null;
  let tableSchema: string | null = null;
  if (!table && given(f.tableSchema)) {
    if (typeof f.tableSchema !== 'string' || f.tableSchema.trim() === '')
      throw invalid(`${what}: tableSchema must be a non-empty string`);
    tableSchema = f.tableSchema;
  }
  // actor: null (present, null) asks for changes with no actor; an absent actor does not filter.
  const actor = 'actor' in f && f.actor === null ? 'none' : given(f.actor) ? parseActor(f.actor, what) : null;
  return {
    table,
    tableSchema,
    actor,
    correlationId: given(f.correlationId) ? parseCorrelationId(f.correlationId, what) : null,
    requestId: parseContextIdFilter(f.requestId, 'requestId'),
    jobId: parseContextIdFilter(f.jobId, 'jobId'),
    ...parseWindow(f as TimeWindow, what),
  };
}

/**
 * Timeline filters an entry point other than tl.timeline takes (export, activity), read once
 * (readInput) so an unreadable object names that entry point; what it holds is then checked by
 * parseTimelineFilters, whose messages say timeline. Anything but an object is left to it.
 */
export function readFilters<T>(filters: T, what: string): T {
  return isObjectInput(filters) ? (readInput(filters, `${what} filters`) as T) : filters;
}

export function parsePageOptions(
  options: unknown,
  extra: readonly string[],
  what: string,
): PageOptions & TimeWindow {
  return checkKeys(
    options,
    ['cursor', 'pageSize', 'consistency', ...extra],
    `${what} options`,
  ) as PageOptions & TimeWindow;
}
