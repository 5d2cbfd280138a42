import { subscribe } from 'node:diagnostics_channel';
import { ActorRef, isThreadlineError } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPERATOR_CHANNELS } from '../src/channels.js';
import { createOperatorSurface } from '../src/surface.js';
import { type Fixture, openFixture } from './fixture.js';

const run = postgresEnabled() ? describe : describe.skip;

const ROUTES = [
  '/audit',
  '/audit/',
  '/audit/timeline',
  '/audit/transaction?id=1',
  '/audit/row?table=posts&pk=1',
  '/audit/actor?actor=user:1',
  '/audit/coverage',
  '/audit/integrity',
  '/audit/api/integrity',
  '/audit/policy',
  '/audit/retention',
  '/audit/exports',
  '/audit/exports/download?format=csv',
  '/audit/assets/app.css',
  '/audit/assets/app.js',
  '/audit/api/timeline',
  '/audit/api/transaction?id=1',
  '/audit/api/history?table=posts&pk=1',
];

run('operator surface security', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await openFixture();
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('refuses to be created without authorize (UNSAFE_MOUNT), and allowUnauthenticated in production', () => {
    let error: unknown;
    try {
      createOperatorSurface({ threadline: fx.tl });
    } catch (e) {
      error = e;
    }
    expect(isThreadlineError(error, 'UNSAFE_MOUNT')).toBe(true);
    const before = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => createOperatorSurface({ threadline: fx.tl, allowUnauthenticated: true })).toThrow(
        /refused when NODE_ENV=production/,
      );
    } finally {
      process.env.NODE_ENV = before;
    }
  });

  it('answers 403 on every page, asset, export and API route when authorize returns false', async () => {
    const surface = createOperatorSurface({ threadline: fx.tl, authorize: () => false, basePath: '/audit' });
    for (const path of ROUTES) {
      const res = await surface.fetch(new Request(`http://x${path}`));
      expect(res.status, path).toBe(403);
      const body = await res.text();
      expect(body, path).not.toContain('post 1');
    }
    const post = await surface.fetch(new Request('http://x/audit/theme', { method: 'POST' }));
    expect(post.status).toBe(403);
  });

  it('a throwing authorize is a 500 without details, reported on the error channel', async () => {
    const seen: unknown[] = [];
    const listener = (m: unknown) => seen.push(m);
    subscribe(OPERATOR_CHANNELS.error, listener);
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => {
        throw new Error('db password is hunter2');
      },
    });
    const res = await surface.fetch(new Request('http://x/timeline'));
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain('hunter2');
    expect(seen).toEqual([{ path: '/timeline', code: 'INTERNAL' }]);
  });

  it('sets the security headers on pages, assets and API responses', async () => {
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
    });
    for (const path of ['/timeline', '/assets/app.js', '/api/timeline']) {
      const res = await surface.fetch(new Request(`http://x${path}`));
      expect(res.status, path).toBe(200);
      const csp = res.headers.get('content-security-policy') ?? '';
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).not.toContain('unsafe-inline');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
  });

  it('refuses a POST without the CSRF token, and a token issued to another actor', async () => {
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
    });
    const noToken = await surface.fetch(
      new Request('http://x/theme', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: 'theme=dark',
      }),
    );
    expect(noToken.status).toBe(403);
    expect(noToken.headers.get('set-cookie')).toBeNull();
    const other = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('other') }),
      csrfSecret: 's'.repeat(20),
    });
    const page = await other.fetch(new Request('http://x/'));
    const token = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const mine = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
      csrfSecret: 's'.repeat(20),
    });
    const stolen = await mine.fetch(
      new Request('http://x/theme', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `theme=dark&csrf=${token}`,
      }),
    );
    expect(stolen.status).toBe(403);
    const ok = await other.fetch(
      new Request('http://x/theme', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `theme=dark&csrf=${token}`,
      }),
    );
    expect(ok.status).toBe(303);
    expect(ok.headers.get('set-cookie')).toContain('tl_theme=dark');
  });

  it('a grant without canPrune cannot prune by posting the form by hand', async () => {
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
    });
    const page = await surface.fetch(new Request('http://x/'));
    const token = /name="csrf" value="([^"]+)"/.exec(await page.text())![1]!;
    const res = await surface.fetch(
      new Request('http://x/retention/purge', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: `confirm=purge+audit+data&csrf=${token}`,
      }),
    );
    expect(res.status).toBe(403);
  });

  it('serves under a base path with and without a trailing slash, and nothing outside it', async () => {
    for (const basePath of ['/audit', '/audit/', 'audit']) {
      const surface = createOperatorSurface({
        threadline: fx.tl,
        authorize: () => ({ actor: ActorRef.user('op') }),
        basePath,
      });
      expect((await surface.fetch(new Request('http://x/audit'))).status).toBe(200);
      expect((await surface.fetch(new Request('http://x/audit/'))).status).toBe(200);
      const tl = await surface.fetch(new Request('http://x/audit/timeline'));
      expect(tl.status).toBe(200);
      expect(await tl.text()).toContain('href="/audit/transaction?id=');
      expect((await surface.fetch(new Request('http://x/auditx'))).status).toBe(404);
      expect((await surface.fetch(new Request('http://x/timeline'))).status).toBe(404);
    }
    const proxied = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
      basePath: '/audit',
      publicPath: '/ops/audit',
    });
    const html = await (await proxied.fetch(new Request('http://x/audit/timeline'))).text();
    expect(html).toContain('href="/ops/audit/transaction?id=');
    expect(html).toContain('src="/ops/audit/assets/app.js"');
  });

  it('renders hostile audit data inert and bad filters as a 400 with the reason', async () => {
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
    });
    const page = async (i: number) => {
      const res = await surface.fetch(new Request(`http://x/transaction?id=${fx.transactions[62 + i]}`));
      expect(res.status).toBe(200);
      return res.text();
    };
    const script = await page(0);
    expect(script).not.toContain('<script>window');
    expect(script).toContain('&lt;script&gt;window.__pwned = 1&lt;/script&gt;');
    const img = await page(1);
    expect(img).not.toMatch(/<img[^>]*onerror/);
    expect(img).toContain('&quot;&gt;&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;');
    expect(await page(2)).not.toMatch(/href="javascript:/);
    const rlo = await page(3);
    expect(rlo).not.toContain('\u202E');
    expect(rlo).toContain('evil\\u{202e}txt.exe');
    expect(await page(4)).toContain('ad\\u{200b}min');
    const long = await page(5);
    expect(long).toMatch(/\(\+9[0-9]{3} chars\)/);
    expect(long.length).toBeLessThan(60_000);
    const bad = await surface.fetch(new Request('http://x/timeline?from=not-a-date'));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('from');
    const api = await surface.fetch(new Request('http://x/api/timeline?from=not-a-date'));
    expect(api.status).toBe(400);
    expect(((await api.json()) as { error: { code: string } }).error.code).toBe('QUERY_INVALID');
  });

  it('the coverage page separates table names with commas (a name may hold a space)', async () => {
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op'), canSeeCoverage: true }),
    });
    const page = await (await surface.fetch(new Request('http://x/coverage'))).text();
    const covered = /<th scope="row">Covered<\/th><td>(.*?)<\/td>/s.exec(page)?.[1] ?? '';
    expect(covered.replace(/<[^>]+>/g, '')).toBe('Order Lines, posts');
  });

  it('the activity chart: SVG with a table twin and bucket links; a hostile bucket is a 400 with the reason', async () => {
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
    });
    const plain = await (await surface.fetch(new Request('http://x/timeline?table=posts'))).text();
    // On by default: drawn without a bucket in the URL (core's choice: hours over the last day).
    expect(plain).toContain('<svg role="img" aria-labelledby="activity-label"');
    expect(plain).toContain('<strong aria-current="true">hour</strong>');
    expect(plain).toContain('href="/timeline?table=posts&amp;bucket=day"');
    const html = await (await surface.fetch(new Request('http://x/timeline?bucket=day&table=posts'))).text();
    expect(html).toContain('<svg role="img" aria-labelledby="activity-label"');
    expect(html).toContain('<summary>Activity as a table</summary>');
    expect(html).toContain('<strong aria-current="true">day</strong>');
    expect(html).toContain('href="/timeline?table=posts&amp;bucket=hour"');
    const api = await surface.fetch(new Request('http://x/api/activity?bucket=day&table=posts'));
    expect(api.status).toBe(200);
    const body = (await api.json()) as { bucket: string; buckets: { changes: number }[] };
    expect(body.bucket).toBe('day');
    const total = body.buckets.reduce((n, b) => n + b.changes, 0);
    expect(html).toContain(`${total.toLocaleString('en-US')} changes from`);
    // A window the chart cannot draw (over 1000 buckets) leaves the list standing when no bucket was asked for.
    const long = await surface.fetch(new Request('http://x/timeline?from=1000-01-01'));
    expect(long.status).toBe(200);
    const longText = await long.text();
    expect(longText).toContain('No activity chart for this window: activity: ');
    expect(longText).toContain('choose a larger bucket or a shorter window');
    expect(longText).toContain('Changes, newest first');
    // A window reaching the year 0 in UTC (valid instants): the list stays, with the reason.
    const edge = await surface.fetch(
      new Request('http://x/timeline?from=0001-01-01T05:00:00%2B15:00&to=0001-01-01T20:00:00Z'),
    );
    expect(edge.status).toBe(200);
    const edgeText = await edge.text();
    expect(edgeText).toContain('No activity chart for this window: activity: ');
    expect(edgeText).toContain('<p class="empty">No changes match.</p>');
    expect((await surface.fetch(new Request('http://x/timeline?from=1000-01-01&bucket=month'))).status).toBe(
      400,
    );
    for (const bucket of ["hour'; drop table posts; --", '<script>alert(1)</script>', 'year']) {
      const q = new URLSearchParams({ bucket });
      const page = await surface.fetch(new Request(`http://x/timeline?${q}`));
      expect(page.status).toBe(400);
      const text = await page.text();
      expect(text).toContain('bucket must be one of minute, hour, day, week, month');
      expect(text).not.toContain('<script>alert(1)</script>');
      const json = await surface.fetch(new Request(`http://x/api/activity?${q}`));
      expect(json.status).toBe(400);
      expect(((await json.json()) as { error: { code: string } }).error.code).toBe('QUERY_INVALID');
    }
  });

  it('filters by a schema-qualified table on pages, the API and downloads', async () => {
    const surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op') }),
    });
    const page = await surface.fetch(new Request('http://x/timeline?table=public.posts'));
    expect(page.status).toBe(200);
    const api = await surface.fetch(new Request('http://x/api/timeline?table=public.Order%20Lines'));
    expect(api.status).toBe(200);
    const body = (await api.json()) as { entries: { tableName: string }[] };
    expect(body.entries.map((e) => e.tableName)).toEqual(['Order Lines', 'Order Lines']);
  });
});
