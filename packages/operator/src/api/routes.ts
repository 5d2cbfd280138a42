import { ThreadlineError } from '@threadline/core';
import type { PageContext } from '../page-context.js';
import { activityFilters, activityOf } from '../pages/activity.js';
import { filtersFromQuery, toTimelineFilters } from '../pages/filters.js';
import { parseKey } from '../pages/row.js';

type ApiRoute = (ctx: PageContext) => Promise<unknown>;

function required(ctx: PageContext, name: string): string {
  const v = ctx.query.get(name)?.trim();
  if (!v) throw new ThreadlineError('QUERY_INVALID', `api: the ${name} parameter is required`);
  return v;
}

function pageOptions(ctx: PageContext) {
  const size = ctx.query.get('pageSize');
  return { cursor: ctx.query.get('cursor') || null, ...(size ? { pageSize: Number(size) } : {}) };
}

/** The JSON API: the same objects as the CLI's --json, behind the same authorization. */
export const API_ROUTES: Record<string, ApiRoute> = {
  '/api/timeline': (ctx) =>
    ctx.tl.timeline(toTimelineFilters(filtersFromQuery(ctx.query)) as never, pageOptions(ctx)),
  '/api/activity': async (ctx) => {
    const activity = activityOf(ctx);
    if (!activity)
      throw new ThreadlineError('NOT_FOUND', 'activity is not available in this version of @threadline/core');
    return activity(activityFilters(ctx, toTimelineFilters(filtersFromQuery(ctx.query))));
  },
  '/api/transaction': async (ctx) => {
    const id = required(ctx, 'id');
    const bundle = await ctx.tl.auditTransaction(id);
    if (!bundle) throw new ThreadlineError('NOT_FOUND', `No audit transaction #${id}.`);
    return bundle;
  },
  '/api/actor': (ctx) =>
    ctx.tl.actorHistory(required(ctx, 'actor'), {
      from: ctx.query.get('from') || undefined,
      to: ctx.query.get('to') || undefined,
      ...pageOptions(ctx),
    }),
  '/api/history': (ctx) =>
    ctx.tl.history(required(ctx, 'table'), parseKey(required(ctx, 'pk')), pageOptions(ctx)),
  '/api/as-of': (ctx) =>
    ctx.tl.asOf(required(ctx, 'table'), parseKey(required(ctx, 'pk')), required(ctx, 'at')),
  '/api/coverage': async (ctx) => {
    if (!ctx.ops.health)
      throw new ThreadlineError('NOT_FOUND', 'coverage is not available in this version of @threadline/core');
    if (!ctx.grant.canSeeCoverage)
      throw new ThreadlineError('FORBIDDEN', 'your grant does not include canSeeCoverage');
    return ctx.ops.health.coverage();
  },
  '/api/coverage/summary': async (ctx) => {
    if (!ctx.ops.health)
      throw new ThreadlineError('NOT_FOUND', 'coverage is not available in this version of @threadline/core');
    if (!ctx.grant.canSeeCoverage)
      throw new ThreadlineError('FORBIDDEN', 'your grant does not include canSeeCoverage');
    return coverageSummary(await ctx.ops.health.coverage());
  },
  '/api/integrity': async (ctx) => {
    if (!ctx.ops.integrity)
      throw new ThreadlineError(
        'NOT_FOUND',
        'tamper evidence is not available in this version of @threadline/core',
      );
    if (!ctx.grant.canSeeCoverage)
      throw new ThreadlineError('FORBIDDEN', 'your grant does not include canSeeCoverage');
    return ctx.ops.integrity.status();
  },
  '/api/policy': async (ctx) => {
    if (!ctx.ops.policy)
      throw new ThreadlineError(
        'NOT_FOUND',
        'the policy view is not available in this version of @threadline/core',
      );
    if (!ctx.grant.canSeePolicy)
      throw new ThreadlineError('FORBIDDEN', 'your grant does not include canSeePolicy');
    return ctx.ops.policy.show();
  },
};

export function coverageSummary(report: { schemas: { uncovered: string[] }[] }): { uncovered: number } {
  return { uncovered: report.schemas.reduce((n, s) => n + s.uncovered.length, 0) };
}

/** A JSON value with bigints as strings (ids are strings already; this is a guard). */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}
