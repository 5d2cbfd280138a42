import { ActorRef, runWithAuditContext, type Threadline } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConformanceDb, openConformanceDb } from './fixture.js';

/** A grant, or false, decided from the request's headers (which the mount reads from its own request type). */
export type HeaderAuthorize = (
  header: (name: string) => string | undefined,
) => { actor: ActorRef; canPrune?: boolean } | false;

/**
 * What a framework mount's test provides: an app serving the operator surface at `basePath`
 * ("/audit"), whose `authorize` reads headers from the framework's own request object and hands
 * them to the suite's `authorize`.
 */
export interface OperatorMountHarness {
  readonly name: string;
  start(options: {
    tl: Threadline;
    basePath: string;
    authorize: HeaderAuthorize;
  }): Promise<{ url: string; close(): Promise<void> }>;
}

const grantFromHeaders: HeaderAuthorize = (header) => {
  const who = header('x-operator');
  return who ? { actor: ActorRef.admin(who) } : false;
};

/** The shared operator-surface suite every framework mount runs (real PostgreSQL, real HTTP). */
export function describeOperatorMountConformance(harness: OperatorMountHarness): void {
  describe.runIf(postgresEnabled())(`operator surface mount: ${harness.name}`, () => {
    let db: ConformanceDb;
    let app: { url: string; close(): Promise<void> };
    let transactionId: string;
    beforeAll(async () => {
      db = await openConformanceDb(2);
      const table = await db.table();
      const result = await runWithAuditContext(
        { actor: ActorRef.user('writer'), correlationId: 'op-mount' },
        () =>
          db.tl.transaction((tx) =>
            tx.query(`insert into ${table} values (1, $1)`, [
              '<script>window.__x=1</script>"><img onerror=alert(1)>',
            ]),
          ),
      );
      transactionId = result.auditTransactionId!;
      app = await harness.start({ tl: db.tl, basePath: '/audit', authorize: grantFromHeaders });
    });
    afterAll(async () => {
      await app?.close();
      await db?.close();
    });

    const get = (path: string, operator?: string) =>
      fetch(`${app.url}${path}`, { headers: operator ? { 'x-operator': operator } : {}, redirect: 'manual' });

    it('answers 403 on pages, assets and the API when authorize says no (from the framework request)', async () => {
      for (const path of [
        '/audit',
        '/audit/timeline',
        '/audit/assets/app.css',
        '/audit/api/timeline',
        `/audit/transaction?id=${transactionId}`,
      ]) {
        const res = await get(path);
        expect(res.status, path).toBe(403);
      }
    });

    it('serves every route under the base path, with and without a trailing slash', async () => {
      for (const path of [
        '/audit',
        '/audit/',
        '/audit/timeline',
        '/audit/assets/app.js',
        '/audit/api/timeline',
      ]) {
        const res = await get(path, 'ops');
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-security-policy'), path).toContain("frame-ancestors 'none'");
      }
      const body = await (await get('/audit/timeline', 'ops')).text();
      expect(body).toContain(`href="/audit/transaction?id=${transactionId}"`);
      expect(body).toContain('Signed in as <code>admin:ops</code>');
    });

    it('escapes hostile audit data and answers the JSON API with the core objects', async () => {
      const page = await (await get(`/audit/transaction?id=${transactionId}`, 'ops')).text();
      expect(page).not.toContain('<script>window.__x');
      expect(page).not.toMatch(/<img[^>]*onerror/);
      const api = (await (await get('/audit/api/timeline?correlationId=op-mount', 'ops')).json()) as {
        entries: { transactionId: string; actor: unknown }[];
        hasMore: boolean;
      };
      expect(api.entries.map((e) => [e.transactionId, e.actor])).toEqual([
        [transactionId, { type: 'user', id: 'writer' }],
      ]);
      expect(api.hasMore).toBe(false);
    });

    it('refuses a state change without the CSRF token and accepts it with one', async () => {
      const form = (body: string) =>
        fetch(`${app.url}/audit/theme`, {
          method: 'POST',
          headers: { 'x-operator': 'ops', 'content-type': 'application/x-www-form-urlencoded' },
          body,
          redirect: 'manual',
        });
      expect((await form('theme=dark')).status).toBe(403);
      const page = await (await get('/audit/', 'ops')).text();
      const token = /name="csrf" value="([^"]+)"/.exec(page)?.[1];
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const ok = await form(`theme=dark&csrf=${token}`);
      expect(ok.status).toBe(303);
      expect(ok.headers.get('set-cookie')).toContain('tl_theme=dark; Path=/audit;');
    });
  });
}
