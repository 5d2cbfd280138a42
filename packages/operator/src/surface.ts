import { Readable } from 'node:stream';
import { runWithAuditContext, ThreadlineError } from '@threadline/core';
import { API_ROUTES, coverageSummary, toJson } from './api/routes.js';
import { SCRIPT } from './assets/script.js';
import { STYLE } from './assets/style.js';
import { publishAccess, publishError } from './channels.js';
import { html } from './html/escape.js';
import { layout } from './html/layout.js';
import { CsrfTokens } from './http/csrf.js';
import { securityHeaders } from './http/headers.js';
import { barePage, codeOf, htmlResponse, jsonResponse, publicMessage, statusOf } from './http/respond.js';
import { operationsOf } from './operations.js';
import { checkGrant, type OperatorGrant, type OperatorSurfaceOptions, resolveOptions } from './options.js';
import type { PageContext, PageResult, Theme } from './page-context.js';
import { actorPage } from './pages/actor.js';
import { coveragePage } from './pages/coverage.js';
import { exportsPage } from './pages/exports.js';
import { filtersFromQuery, toTimelineFilters } from './pages/filters.js';
import { homePage } from './pages/home.js';
import { integrityPage } from './pages/integrity.js';
import { policyPage } from './pages/policy.js';
import { PRUNE_CONFIRMATION, retentionPage } from './pages/retention.js';
import { rowPage } from './pages/row.js';
import { timelinePage } from './pages/timeline.js';
import { transactionPage } from './pages/transaction.js';

const PAGES: Record<string, (ctx: PageContext) => Promise<PageResult>> = {
  '/': homePage,
  '/timeline': timelinePage,
  '/transaction': transactionPage,
  '/actor': actorPage,
  '/row': rowPage,
  '/coverage': coveragePage,
  '/integrity': integrityPage,
  '/policy': policyPage,
  '/retention': (ctx) => retentionPage(ctx),
  '/exports': exportsPage,
};

const ASSETS: Record<string, [type: string, body: string]> = {
  '/assets/app.css': ['text/css; charset=utf-8', STYLE],
  '/assets/app.js': ['text/javascript; charset=utf-8', SCRIPT],
};

const MAX_FORM_BYTES = 8192;

export interface OperatorSurface<R = Request> {
  /** Web-standard handler. `native` is the framework's request, handed to `authorize`. */
  fetch(request: Request, native?: R): Promise<Response>;
  readonly basePath: string;
}

/**
 * The operator surface as one Web-standard handler, so every framework mounts the same code.
 * Fail-closed: every route, assets and the JSON API included, runs `authorize` first.
 */
export function createOperatorSurface<R = Request>(options: OperatorSurfaceOptions<R>): OperatorSurface<R> {
  const opts = resolveOptions(options);
  const csrf = new CsrfTokens(opts.csrfSecret);
  const ops = operationsOf(opts.threadline);

  async function handle(request: Request, native: R | undefined): Promise<Response> {
    const url = new URL(request.url);
    const route = routeOf(url.pathname, opts.basePath);
    if (route === null) return barePage(404, 'Not found', 'This address is not part of the audit surface.');
    let grant: OperatorGrant | false;
    try {
      grant = checkGrant(await opts.authorize((native ?? request) as R));
    } catch (error) {
      publishError(route, codeOf(error));
      return barePage(500, 'Server error', 'Authorization failed. The details are in the server logs.');
    }
    if (!grant) {
      publishAccess('denied', route);
      return route.startsWith('/api/')
        ? jsonResponse(toJson({ error: { code: 'FORBIDDEN', message: 'not authorized' } }), 403)
        : barePage(403, 'Forbidden', 'You are not allowed to use the audit surface.');
    }
    publishAccess('granted', route);
    const asset = ASSETS[route];
    if (asset)
      return new Response(asset[1], {
        headers: securityHeaders(asset[0], { 'cache-control': 'private, max-age=300' }),
      });

    const ctx = await pageContext(url, route, grant, request);
    // Everything the page does runs as the operator: recorded actions, exports, purges.
    return runWithAuditContext({ actor: grant.actor, source: 'threadline:operator' }, () =>
      respond(ctx, route, request),
    );
  }

  async function respond(ctx: PageContext, route: string, request: Request): Promise<Response> {
    try {
      if (request.method === 'POST') return await post(ctx, request);
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return barePage(405, 'Method not allowed', 'Use GET, or POST for forms.');
      }
      const api = API_ROUTES[route];
      if (api) return jsonResponse(toJson(await api(ctx)));
      if (route === '/exports/download') return await download(ctx);
      const page = PAGES[route];
      if (!page)
        return htmlResponse(
          layout(ctx, { status: 404, title: 'Not found', body: html`<p>No such page.</p>` }),
          404,
        );
      const result = await page(ctx);
      return htmlResponse(layout(ctx, result), result.status ?? 200);
    } catch (error) {
      const status = statusOf(error);
      if (status >= 500) publishError(route, codeOf(error));
      if (route.startsWith('/api/')) {
        return jsonResponse(
          toJson({ error: { code: codeOf(error), message: publicMessage(error, status) } }),
          status,
        );
      }
      return htmlResponse(
        layout(ctx, {
          title: status === 404 ? 'Not found' : status === 400 ? 'Check the request' : 'Error',
          body: html`<p class="error" role="alert">${publicMessage(error, status)}</p>`,
        }),
        status,
      );
    }
  }

  async function pageContext(
    url: URL,
    route: string,
    grant: OperatorGrant,
    request: Request,
  ): Promise<PageContext> {
    const actorKey = grant.actor.type === 'anonymous' ? 'anonymous' : `${grant.actor.type}:${grant.actor.id}`;
    let coverage: PageContext['coverage'] = null;
    if (ops.health && grant.canSeeCoverage && !route.startsWith('/api/') && request.method === 'GET') {
      coverage = await ops.health.coverage().then(coverageSummary, () => ({ uncovered: null }));
    }
    return {
      tl: opts.threadline,
      ops,
      grant,
      query: url.searchParams,
      csrfToken: csrf.issue(actorKey),
      theme: themeOf(request),
      pollSeconds: opts.pollSeconds,
      route,
      coverage,
      link: (path, params) => {
        const search = new URLSearchParams();
        for (const [k, v] of Object.entries(params ?? {}))
          if (v !== null && v !== undefined && v !== '') search.set(k, v);
        const qs = search.toString();
        return `${opts.publicPath}${path === '/' && opts.publicPath !== '' ? '/' : path}${qs ? `?${qs}` : ''}`;
      },
    };
  }

  async function post(ctx: PageContext, request: Request): Promise<Response> {
    const form = await readForm(request);
    const actorKey =
      ctx.grant.actor.type === 'anonymous' ? 'anonymous' : `${ctx.grant.actor.type}:${ctx.grant.actor.id}`;
    if (!csrf.verify(actorKey, form.get('csrf'))) {
      return htmlResponse(
        layout(ctx, {
          title: 'Form expired',
          body: html`<p class="error" role="alert">The form's security token is missing or wrong. Reload the page and submit again.</p>`,
        }),
        403,
      );
    }
    if (ctx.route === '/theme') {
      const theme = form.get('theme');
      const value: Theme = theme === 'light' || theme === 'dark' ? theme : 'system';
      return new Response(null, {
        status: 303,
        headers: securityHeaders('text/plain', {
          location: request.headers.get('referer')?.startsWith(new URL(request.url).origin)
            ? request.headers.get('referer')!
            : ctx.link('/'),
          'set-cookie': `tl_theme=${value}; Path=${opts.publicPath || '/'}; SameSite=Strict; HttpOnly; Max-Age=31536000`,
        }),
      });
    }
    if (ctx.route === '/retention/purge') {
      if (!ctx.grant.canPrune)
        throw new ThreadlineError('FORBIDDEN', 'Your grant does not include canPrune.');
      if (!ctx.ops.retention)
        throw new ThreadlineError(
          'NOT_FOUND',
          'Retention is not available in this version of @threadline/core.',
        );
      if (form.get('confirm')?.trim() !== PRUNE_CONFIRMATION) {
        return htmlResponse(
          layout(
            ctx,
            await retentionPage(ctx, `Nothing was purged: type "${PRUNE_CONFIRMATION}" exactly to confirm.`),
          ),
          400,
        );
      }
      const retention = ctx.ops.retention;
      const result = (await retention.purge({ dryRun: false })) as {
        deletedChanges: number;
        deletedTransactions: number;
        runId: string;
        complete: boolean;
      };
      await ctx.tl.recordAction('threadline.retention.purge', {
        reason: `operator surface: run #${result.runId} deleted ${result.deletedChanges} changes and ${result.deletedTransactions} transactions`,
      });
      return htmlResponse(
        layout(
          ctx,
          await retentionPage(
            ctx,
            `Purge run #${result.runId} deleted ${result.deletedChanges.toLocaleString('en-US')} changes and ${result.deletedTransactions.toLocaleString('en-US')} transactions${result.complete ? '' : ' and stopped at its batch limit: purge again for the rest'}.`,
          ),
        ),
      );
    }
    return barePage(404, 'Not found', 'No such form.');
  }

  async function download(ctx: PageContext): Promise<Response> {
    if (!ctx.ops.export)
      throw new ThreadlineError('NOT_FOUND', 'Export is not available in this version of @threadline/core.');
    if (!ctx.grant.canExport)
      throw new ThreadlineError('FORBIDDEN', 'Your grant does not include canExport.');
    const format = ctx.query.get('format') ?? 'csv';
    if (format !== 'csv' && format !== 'json' && format !== 'ndjson') {
      throw new ThreadlineError('QUERY_INVALID', 'format must be csv, json or ndjson');
    }
    const filters = toTimelineFilters(filtersFromQuery(ctx.query));
    const exporter = ctx.ops.export;
    const stream = runWithAuditContext({ actor: ctx.grant.actor, source: 'threadline:operator' }, () =>
      exporter.stream(filters, { format }),
    );
    const type =
      format === 'csv'
        ? 'text/csv; charset=utf-8'
        : format === 'json'
          ? 'application/json; charset=utf-8'
          : 'application/x-ndjson; charset=utf-8';
    return new Response(Readable.toWeb(stream as Readable) as ReadableStream, {
      headers: securityHeaders(type, {
        'content-disposition': `attachment; filename="threadline-export.${format}"`,
      }),
    });
  }

  return {
    basePath: opts.basePath,
    fetch: (request, native) => handle(request, native),
  };
}

/** The route below the base path, or null when the path is outside it. */
function routeOf(pathname: string, basePath: string): string | null {
  if (basePath === '') return pathname || '/';
  if (pathname === basePath) return '/';
  if (!pathname.startsWith(`${basePath}/`)) return null;
  return pathname.slice(basePath.length) || '/';
}

function themeOf(request: Request): Theme {
  const match = /(?:^|;\s*)tl_theme=(light|dark|system)(?:;|$)/.exec(request.headers.get('cookie') ?? '');
  return (match?.[1] as Theme | undefined) ?? 'system';
}

async function readForm(request: Request): Promise<URLSearchParams> {
  const type = request.headers.get('content-type') ?? '';
  if (!type.startsWith('application/x-www-form-urlencoded')) return new URLSearchParams();
  const text = await request.text();
  if (text.length > MAX_FORM_BYTES) return new URLSearchParams();
  return new URLSearchParams(text);
}
