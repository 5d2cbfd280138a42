import { ActorRef } from '../actor-ref.js';
import { cleanContextId, MAX_CONTEXT_ID_BYTES } from '../context.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { parseTableName, type TableName } from '../identifiers.js';
import type { PageOptions, RowKey, TimeWindow } from './types.js';

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

export function invalid(message: string): ThreadlineError {
  return new ThreadlineError('QUERY_INVALID', message);
}

function checkKeys(value: unknown, allowed: readonly string[], what: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw invalid(`${what} must be an object`);
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key))
      throw invalid(`${what}: unknown key "${key.slice(0, 40)}"; known keys are ${allowed.join(', ')}`);
  }
  return value as Record<string, unknown>;
}

const ISO = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)(Z|[+-]\d{2}(?::?\d{2})?)?)?$/i;

/**
 * A Date or an ISO 8601 string → an ISO string with an explicit zone that PostgreSQL parses
 * exactly (microseconds kept). A string without a zone is taken as UTC; a date alone as midnight UTC.
 */
export function parseInstant(value: unknown, what: string): string {
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw invalid(`${what} is an invalid Date`);
    return value.toISOString();
  }
  const text = typeof value === 'string' ? value.trim() : '';
  const m = ISO.exec(text);
  if (!m) {
    throw invalid(
      `${what} must be a Date or an ISO 8601 timestamp like 2026-11-28T14:00:00Z, got ${JSON.stringify(String(value).slice(0, 40))}`,
    );
  }
  const normalized = `${m[1]}T${m[2] ?? '00:00:00'}${(m[3] ?? 'Z').toUpperCase()}`;
  if (Number.isNaN(Date.parse(normalized)))
    throw invalid(`${what} is not a valid timestamp: ${JSON.stringify(text)}`);
  return normalized;
}

export function parseWindow(options: TimeWindow, what: string): { from: string | null; to: string | null } {
  const from =
    options.from === undefined || options.from === null ? null : parseInstant(options.from, `${what}: from`);
  const to = options.to === undefined || options.to === null ? null : parseInstant(options.to, `${what}: to`);
  if (from && to && Date.parse(from) > Date.parse(to))
    throw invalid(`${what}: from (${from}) is after to (${to})`);
  return { from, to };
}

export function parsePageSize(value: unknown, what: string): number {
  if (value === undefined || value === null) return DEFAULT_PAGE_SIZE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PAGE_SIZE) {
    throw invalid(`${what}: pageSize must be an integer from 1 to ${MAX_PAGE_SIZE}`);
  }
  return value;
}

export function parseActor(value: unknown, what: string): ActorRef {
  try {
    return typeof value === 'string' && !value.trim().startsWith('{')
      ? ActorRef.fromString(value)
      : ActorRef.parse(value);
  } catch (error) {
    throw invalid(
      `${what}: actor ${isThreadlineError(error) ? error.message : 'is invalid'} (use ActorRef.user(id) or "type:id")`,
    );
  }
}

export function parseCorrelationId(value: unknown, what: string): string {
  const clean = cleanContextId(value);
  if (clean === undefined) {
    throw invalid(
      `${what}: correlationId must be a non-empty string of at most ${MAX_CONTEXT_ID_BYTES} bytes (after trimming) without control characters`,
    );
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
    table = parseTableName(value, (schema as string | undefined) ?? 'public');
  } catch (error) {
    throw invalid(`${what}: ${isThreadlineError(error) ? error.message : 'invalid table name'}`);
  }
  if (schema !== undefined && table.schema !== schema) {
    throw invalid(
      `${what}: table "${value}" names schema ${table.schema} but tableSchema is ${String(schema)}`,
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
      return v;
    }
    if (typeof v === 'string' || typeof v === 'boolean') return v;
    if (v instanceof Date) return v.toISOString();
    throw invalid(`${what}: key values must be strings, numbers, bigints, booleans or Dates`);
  };
  if (key === null || key === undefined)
    throw invalid(`${what}: a key is required (a value, or an object naming every key column)`);
  if (typeof key === 'object' && !(key instanceof Date)) {
    if (Array.isArray(key))
      throw invalid(`${what}: give a composite key as an object naming every key column, not an array`);
    return JSON.stringify(Object.fromEntries(Object.entries(key).map(([k, v]) => [k, scalar(v)])));
  }
  return JSON.stringify(scalar(key));
}

export interface TimelineFilters extends TimeWindow {
  table?: string;
  tableSchema?: string;
  actor?: ActorRef | string;
  correlationId?: string;
}

export interface ParsedTimelineFilters {
  table: TableName | null;
  tableSchema: string | null;
  actor: ActorRef | null;
  correlationId: string | null;
  from: string | null;
  to: string | null;
}

export const TIMELINE_FILTER_KEYS = ['table', 'tableSchema', 'actor', 'from', 'to', 'correlationId'] as const;

export function parseTimelineFilters(filters: unknown): ParsedTimelineFilters {
  const f = checkKeys(filters, TIMELINE_FILTER_KEYS, 'timeline filters');
  const table =
    f.table === undefined || f.table === null
      ? null
      : parseTable(f.table, f.tableSchema ?? undefined, 'timeline');
  let tableSchema: string | null = null;
  if (!table && f.tableSchema !== undefined && f.tableSchema !== null) {
    if (typeof f.tableSchema !== 'string' || f.tableSchema.trim() === '')
      throw invalid('timeline: tableSchema must be a non-empty string');
    tableSchema = f.tableSchema;
  }
  return {
    table,
    tableSchema,
    actor: f.actor === undefined || f.actor === null ? null : parseActor(f.actor, 'timeline'),
    correlationId:
      f.correlationId === undefined || f.correlationId === null
        ? null
        : parseCorrelationId(f.correlationId, 'timeline'),
    ...parseWindow(f as TimeWindow, 'timeline'),
  };
}

export function parsePageOptions(
  options: unknown,
  extra: readonly string[],
  what: string,
): PageOptions & TimeWindow {
  return checkKeys(options, ['cursor', 'pageSize', ...extra], `${what} options`) as PageOptions & TimeWindow;
}
