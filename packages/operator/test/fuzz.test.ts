import { ActorRef } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperatorSurface, type OperatorSurface } from '../src/surface.js';
import { type Fixture, openFixture } from './fixture.js';

const run = postgresEnabled() ? describe : describe.skip;

const ROUTES = [
  '/',
  '/timeline',
  '/transaction',
  '/actor',
  '/row',
  '/api/timeline',
  '/api/transaction',
  '/api/actor',
  '/api/history',
  '/api/as-of',
  '/api/activity',
  '/exports/download',
];
const KEYS = [
  'table',
  'actor',
  'from',
  'to',
  'correlationId',
  'requestId',
  'jobId',
  'cursor',
  'id',
  'pk',
  'at',
  'pageSize',
  'format',
  'preview',
  'bucket',
];

// Values a hostile or careless client sends: markup, quotes, SQL, huge and odd numbers, controls.
const hostileValue = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom(
    "'; drop table posts; --",
    '"><script>alert(1)</script>',
    'javascript:alert(1)',
    '{"id": 1}',
    '{"id": "x", "extra": 1}',
    '[1,2]',
    'null',
    '-1',
    '1e999',
    '99999999999999999999999',
    'user:',
    'user:1:2',
    'none',
    'anonymous',
    '2026-02-30T00:00:00Z',
    '0000-01-01',
    'public.posts',
    '"Order Lines"',
    'a'.repeat(5000),
    '\u0000',
    '\u202e',
    'hour',
    'month',
    'year',
    "hour'::interval",
  ),
);

run('operator surface: fuzzed HTTP parameters', () => {
  let fx: Fixture;
  let surface: OperatorSurface;
  beforeAll(async () => {
    fx = await openFixture();
    surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({
        actor: ActorRef.user('fuzz'),
        canExport: true,
        canSeeCoverage: true,
        canSeePolicy: true,
      }),
    });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('answers every route with 200, 400 or 404 and never leaks a raw database error or unescaped markup', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ROUTES),
        fc.array(fc.tuple(fc.constantFrom(...KEYS), hostileValue), { maxLength: 4 }),
        async (route, params) => {
          const search = new URLSearchParams(params);
          const res = await surface.fetch(new Request(`http://x${route}?${search}`));
          const body = await res.text();
          expect([200, 400, 404]).toContain(res.status);
          expect(body).not.toMatch(
            /syntax error at|invalid input syntax|violates|relation ".*" does not exist|at Object\.|\n\s+at /,
          );
          if (res.headers.get('content-type')?.startsWith('text/html')) {
            expect(body).not.toContain('<script>alert(1)</script>');
            expect(body).not.toMatch(/href="javascript:/i);
          }
        },
      ),
      { numRuns: 150 },
    );
  }, 300_000);

  it('a real cursor tampered with, cut short or taken from another route is a 400 naming the cursor, on pages and the API', async () => {
    const first = await surface.fetch(new Request('http://x/api/timeline?pageSize=1'));
    const { cursor } = (await first.json()) as { cursor: string };
    expect(cursor).toBeTruthy();
    const history = await surface.fetch(new Request('http://x/api/history?table=posts&pk=1&pageSize=1'));
    const other = ((await history.json()) as { cursor: string | null }).cursor ?? `${cursor}x`;
    const tampered = fc.oneof(
      fc.nat({ max: cursor.length - 1 }).map((n) => cursor.slice(0, n + 1)),
      fc
        .tuple(fc.nat({ max: cursor.length - 1 }), fc.constantFrom('A', 'z', '_', '-', '0'))
        .map(([n, c]) => cursor.slice(0, n) + c + cursor.slice(n + 1)),
      hostileValue.map((v) => cursor + v),
      fc.constant(other),
    );
    await fc.assert(
      fc.asyncProperty(tampered, fc.constantFrom('/api/timeline', '/timeline'), async (bad, route) => {
        const res = await surface.fetch(
          new Request(`http://x${route}?pageSize=1&cursor=${encodeURIComponent(bad)}`),
        );
        const body = await res.text();
        if (res.status === 200) {
          // Only a change that leaves a valid cursor of this very query may still be accepted.
          const decoded = JSON.parse(Buffer.from(bad, 'base64url').toString('utf8'));
          expect(decoded.q).toBe(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')).q);
        } else {
          expect(res.status).toBe(400);
          expect(body).toMatch(/cursor/);
          expect(body).not.toMatch(/syntax error at|invalid input syntax|\n\s+at /);
        }
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});
