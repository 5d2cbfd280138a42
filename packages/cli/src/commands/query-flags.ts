import type { TimelineFilters } from '@threadline/core';
import type { OptionSpecs } from '../options.js';
import type { CommandContext } from './command.js';

/** Paging flags shared by history and timeline. */
export const PAGE_OPTIONS = {
  'page-size': { type: 'string', value: 'N', description: 'changes per page, 1-1000 (default 50)' },
  cursor: {
    type: 'string',
    value: 'C',
    description: 'continue after the page that printed this cursor (same filters)',
  },
} as const satisfies OptionSpecs;

export const WINDOW_OPTIONS = {
  from: {
    type: 'string',
    value: 'ISO',
    description: 'only changes at or after this instant (ISO 8601; no zone means UTC)',
  },
  to: { type: 'string', value: 'ISO', description: 'only changes at or before this instant' },
} as const satisfies OptionSpecs;

/** --page-size as a number; core checks the range (QUERY_INVALID, exit 2). */
export function pageOptions(ctx: CommandContext): { pageSize?: number; cursor?: string } {
  const raw = ctx.flags['page-size'] as string | undefined;
  const out: { pageSize?: number; cursor?: string } = {};
  if (raw !== undefined) {
    if (!/^\s*\d{1,7}\s*$/.test(raw))
      throw ctx.usageError(`--page-size must be a whole number from 1 to 1000, got "${raw.slice(0, 20)}"`);
    out.pageSize = Number(raw);
  }
  const cursor = ctx.flags.cursor as string | undefined;
  if (cursor !== undefined) out.cursor = cursor;
  return out;
}

/** --from / --to as given; core parses them (a bad date is QUERY_INVALID, exit 2). */
export function windowOptions(ctx: CommandContext): { from?: string; to?: string } {
  const out: { from?: string; to?: string } = {};
  if (ctx.flags.from !== undefined) out.from = ctx.flags.from as string;
  if (ctx.flags.to !== undefined) out.to = ctx.flags.to as string;
  return out;
}

/** The timeline's filter flags, shared by every command that takes timeline filters (timeline, export). */
export const TIMELINE_FILTER_OPTIONS = {
  table: {
    type: 'string',
    value: 'T',
    description: 'only this table (name or schema.name, exact and case-sensitive)',
  },
  'table-schema': {
    type: 'string',
    value: 'S',
    description:
      'only tables in this schema (--schema is the storage schema); with --table, the table must be named schema.name in it',
  },
  actor: {
    type: 'string',
    value: 'type:id|none',
    description:
      'only changes in transactions bound to this actor, e.g. user:42, service_account:billing, anonymous; none: transactions with no actor bound at all',
  },
  ...WINDOW_OPTIONS,
  'correlation-id': {
    type: 'string',
    value: 'ID',
    description:
      'only transactions carrying this correlation id, or linked to an action that does (at most 256 bytes)',
  },
  'request-id': {
    type: 'string',
    value: 'ID',
    description: 'only transactions of this request (every transaction that carried its request id)',
  },
  'job-id': {
    type: 'string',
    value: 'ID',
    description: 'only transactions of this job (every transaction that carried its job id)',
  },
} as const satisfies OptionSpecs;

/** The timeline filters from the flags, as given; core validates them (QUERY_INVALID, exit 2). */
export function timelineFilters(ctx: CommandContext): TimelineFilters {
  const filters: TimelineFilters = { ...windowOptions(ctx) };
  const flag = (name: string) => ctx.flags[name] as string | undefined;
  if (flag('table') !== undefined) filters.table = flag('table');
  if (flag('table-schema') !== undefined) filters.tableSchema = flag('table-schema');
  const actor = flag('actor');
  if (actor !== undefined) filters.actor = actor.trim() === 'none' ? null : actor;
  if (flag('correlation-id') !== undefined) filters.correlationId = flag('correlation-id');
  if (flag('request-id') !== undefined) filters.requestId = flag('request-id');
  if (flag('job-id') !== undefined) filters.jobId = flag('job-id');
  return filters;
}
