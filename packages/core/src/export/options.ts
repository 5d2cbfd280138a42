import { ActorRef as Actor, type ActorRef } from '../context/actor-ref.js';
import { getAuditContext } from '../context/context.js';
import { parseConsistency, type ReadConsistency } from '../db/read-routing.js';
import { isThreadlineError, ThreadlineError } from '../errors.js';
import { checkKeys, invalid } from '../query/validate.js';
import { safeText } from '../safe-text.js';

export const EXPORT_FORMATS = ['csv', 'json', 'ndjson'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export const DEFAULT_EXPORT_PAGE_SIZE = 1000;
const MAX_EXPORT_PAGE_SIZE = 10_000;
export const DEFAULT_MAX_ROWS = 10_000;
export const DEFAULT_COUNT_CAP = 10_000;

export interface ExportStreamOptions {
  format: ExportFormat;
  /** Rows per database round trip, 1-10000 (default 1000; smaller pages are used for big rows). */
  pageSize?: number;
  /** CSV only: prefix cells that start with = + - @ tab or CR with `'` (default true). */
  formulaGuard?: boolean;
  /** Stop after this many rows (`stats.truncated` tells whether more matched). Default: no cap. */
  maxRows?: number;
  /** Who takes the data out (recorded as the `threadline.export` action); default: the context's actor. */
  actor?: ActorRef | string;
  /** `'primary'` reads the pages from db even when readDb is configured (the action is always written to db). */
  consistency?: ReadConsistency;
}

/** The shared option validator: one message for an unknown key everywhere. */
export { checkKeys };

export function parseFormat(value: unknown, what: string): ExportFormat {
  if (typeof value === 'string' && (EXPORT_FORMATS as readonly string[]).includes(value))
    return value as ExportFormat;
  throw invalid(
    `${what}: format must be "csv", "json" or "ndjson", got ${JSON.stringify(safeText(value).slice(0, 20))}`,
  );
}

export function parsePositiveInt(value: unknown, max: number, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max)
    throw invalid(`${what} must be an integer from 1 to ${max}, got ${safeText(value).slice(0, 20)}`);
  return value;
}

/** The actor an export is recorded for: the given one, else the audit context's; one is required. */
export function exportActor(value: unknown, what: string): ActorRef {
  if (value !== undefined && value !== null) {
    try {
      return typeof value === 'string' && !value.trim().startsWith('{')
        ? Actor.fromString(value)
        : Actor.parse(value);
    } catch (error) {
      throw new ThreadlineError(
        'INVALID_ACTOR',
        `${what}: actor ${isThreadlineError(error) ? error.message : 'is invalid'}; pass ActorRef.user(id) or "type:id"`,
      );
    }
  }
  const actor = getAuditContext()?.actor;
  if (!actor)
    throw new ThreadlineError(
      'INVALID_ACTOR',
      `${what}: no actor to record the export for; pass { actor: ActorRef.user(id) } or run inside an audit context that has one`,
    );
  return actor;
}

export interface ParsedStreamOptions {
  format: ExportFormat;
  pageSize: number;
  formulaGuard: boolean;
  maxRows: number | null;
  actor: ActorRef;
  consistency: ReadConsistency;
}

/** `defaultMaxRows`: the row limit when `maxRows` is absent (toBuffer's), else none. */
export function parseStreamOptions(
  options: unknown,
  what: string,
  defaultMaxRows?: number,
): ParsedStreamOptions {
  const o = checkKeys(
    options,
    ['format', 'pageSize', 'formulaGuard', 'maxRows', 'actor', 'consistency'],
    `${what} options`,
  );
  if (!('maxRows' in o) && defaultMaxRows !== undefined) o.maxRows = defaultMaxRows;
  if (o.formulaGuard !== undefined && typeof o.formulaGuard !== 'boolean')
    throw invalid(`${what}: formulaGuard must be true or false`);
  return {
    format: parseFormat(o.format, what),
    pageSize:
      o.pageSize === undefined
        ? DEFAULT_EXPORT_PAGE_SIZE
        : parsePositiveInt(o.pageSize, MAX_EXPORT_PAGE_SIZE, `${what}: pageSize`),
    formulaGuard: o.formulaGuard !== false,
    maxRows:
      o.maxRows === undefined || o.maxRows === null
        ? null
        : parsePositiveInt(o.maxRows, Number.MAX_SAFE_INTEGER, `${what}: maxRows`),
    actor: exportActor(o.actor, what),
    consistency: parseConsistency(o.consistency, what),
  };
}
