import type { Threadline } from '@threadline/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type ConformanceDb,
  type ConformanceOptions,
  openConformanceDb,
  servicesFor,
  suiteName,
} from './fixture.js';

export interface RequestAppOptions {
  /** Threadline on a pool of 2 connections to the test database. */
  tl: Threadline;
  /** An audited table `(id int primary key, note text)`. */
  table: string;
}

/**
 * What a request adapter's test provides: a served app with the adapter mounted. Its actor
 * callback must return `ActorRef.user(<x-test-actor header>)` when that header is present and
 * nothing otherwise, and throw `new Error('actor lookup failed')` when `x-test-actor-throw` is set.
 * Routes (JSON bodies `{ id, note?, actor? }`):
 * - POST /items: tl.transaction inserting (id, note); 200 `{ auditTransactionId }`
 * - POST /items/fail: tl.transaction inserting, then throwing; any 5xx
 * - POST /items/autocommit: tl.query inserting, outside any transaction; 200
 * - POST /items/late-actor: setAuditActor(ActorRef.user(body.actor)) (as an auth guard would),
 *   then tl.transaction inserting; 200
 * An error a route does not handle answers 500 with JSON `{ error: name, code, message }` of the
 * error (the fault suite checks that the application saw the driver's own error).
 */
export interface RequestAdapterHarness {
  readonly name: string;
  start(options: RequestAppOptions): Promise<{ url: string; close(): Promise<void> }>;
}

async function post(url: string, path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** The shared request-adapter conformance suite (real PostgreSQL). */
export function describeRequestAdapterConformance(
  harness: RequestAdapterHarness,
  options: ConformanceOptions = {},
): void {
  describe.runIf(servicesFor(options))(
    suiteName(`request adapter conformance: ${harness.name}`, options),
    () => {
      let db: ConformanceDb;
      let app: { url: string; close(): Promise<void> };
      let table: string;
      beforeAll(async () => {
        db = await openConformanceDb(2, options);
        table = await db.table();
        app = await harness.start({ tl: db.tl, table });
      });
      afterAll(async () => {
        await app?.close();
        await db?.close();
      });

      it('makes the request context visible to the capture triggers', async () => {
        const res = await post(
          app.url,
          '/items',
          { id: 1 },
          { 'x-test-actor': '7', 'x-request-id': 'req-abc', 'x-correlation-id': '  corr-abc  ' },
        );
        expect(res.status).toBe(200);
        const [row] = (await db.audit(table)).filter((r) => r.id === 1);
        expect(row).toMatchObject({
          actor: '7',
          actorType: 'user',
          requestId: 'req-abc',
          correlationId: 'corr-abc',
        });
        expect(res.json().auditTransactionId).toBe(row!.transactionId);
        expect(row!.source).toBeTruthy();
        expect(typeof row!.meta?.remoteAddress).toBe('string');
      });

      it('ignores an over-long or empty correlation id and still records a request id', async () => {
        const long = await post(
          app.url,
          '/items',
          { id: 2 },
          { 'x-test-actor': '7', 'x-correlation-id': 'x'.repeat(300) },
        );
        const blank = await post(
          app.url,
          '/items',
          { id: 3 },
          { 'x-test-actor': '7', 'x-correlation-id': '   ' },
        );
        expect([long.status, blank.status]).toEqual([200, 200]);
        const rows = (await db.audit(table)).filter((r) => r.id === 2 || r.id === 3);
        expect(rows.map((r) => r.id)).toEqual([2, 3]);
        for (const row of rows) {
          expect(row.requestId).toMatch(/^[0-9a-f-]{36}$/);
          expect(row.requestId).toBeTruthy();
          expect(row.correlationId).toBe(row.requestId);
        }
      });

      it('attributes 100 concurrent requests with distinct actors on a pool of 2', async () => {
        const ids = Array.from({ length: 100 }, (_, i) => 1000 + i);
        const results = await Promise.all(
          ids.map((id) =>
            post(app.url, '/items', { id }, { 'x-test-actor': `u${id}`, 'x-correlation-id': `c${id}` }),
          ),
        );
        expect(results.map((r) => r.status)).toEqual(ids.map(() => 200));
        const rows = (await db.audit(table)).filter((r) => r.id >= 1000 && r.id < 1100);
        expect(rows.map((r) => r.id).sort((a, b) => a - b)).toEqual(ids);
        for (const row of rows)
          expect(row).toMatchObject({ actor: `u${row.id}`, correlationId: `c${row.id}` });
      });

      it('never leaks an actor to the next request on a pooled connection', async () => {
        expect((await post(app.url, '/items', { id: 2000 }, { 'x-test-actor': 'someone' })).status).toBe(200);
        for (let i = 1; i <= 6; i++)
          expect((await post(app.url, '/items', { id: 2000 + i })).status).toBe(200);
        const rows = (await db.audit(table)).filter((r) => r.id > 2000 && r.id <= 2006);
        expect(rows.map((r) => r.id)).toEqual([2001, 2002, 2003, 2004, 2005, 2006]);
        for (const row of rows) expect(row.actor).toBeNull();
      });

      it('leaves no audit rows when the handler rolls back', async () => {
        const before = await db.inserts(table);
        const res = await post(app.url, '/items/fail', { id: 3000 }, { 'x-test-actor': '7' });
        expect(res.status).toBeGreaterThanOrEqual(500);
        expect(res.status).toBeLessThan(600);
        // The insert ran (it took a value of the table's sequence), then rolled back.
        expect(await db.inserts(table)).toBe(before + 1);
        expect((await db.audit(table)).filter((r) => r.id === 3000)).toHaveLength(0);
        expect(
          (await db.pool.query(`select count(*)::int as n from ${table} where id = 3000`)).rows[0].n,
        ).toBe(0);
      });

      it('attributes a write made outside any transaction', async () => {
        const res = await post(app.url, '/items/autocommit', { id: 4000 }, { 'x-test-actor': 'auto' });
        expect(res.status).toBe(200);
        expect((await db.audit(table)).filter((r) => r.id === 4000)).toMatchObject([{ actor: 'auto' }]);
      });

      it('lets a guard set the actor after the middleware opened the context', async () => {
        const res = await post(app.url, '/items/late-actor', { id: 5000, actor: 'guarded' });
        expect(res.status).toBe(200);
        expect((await db.audit(table)).filter((r) => r.id === 5000)).toMatchObject([{ actor: 'guarded' }]);
      });

      it('fails the request when the actor callback throws, and writes nothing', async () => {
        const res = await post(
          app.url,
          '/items',
          { id: 6000 },
          { 'x-test-actor-throw': '1', 'x-test-actor': 'wrong' },
        );
        expect(res.status).toBeGreaterThanOrEqual(500);
        expect(res.status).toBeLessThan(600);
        expect((await db.audit(table)).filter((r) => r.id === 6000)).toHaveLength(0);
        // The next request on the same pool is attributed normally.
        expect((await post(app.url, '/items', { id: 6001 }, { 'x-test-actor': 'right' })).status).toBe(200);
        expect((await db.audit(table)).filter((r) => r.id === 6001)).toMatchObject([{ actor: 'right' }]);
      });
    },
  );
}
