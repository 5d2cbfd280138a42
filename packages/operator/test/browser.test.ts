import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import AxeBuilder from '@axe-core/playwright';
import { ActorRef } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromiumAvailable, launchChromium } from './browser.js';
import { type Fixture, openFixture, serve } from './fixture.js';

// Screenshots go to docs/operator with TL_UPDATE_SCREENSHOTS=1 (then commit them), else to a temp dir.
const SHOTS = process.env.TL_UPDATE_SCREENSHOTS
  ? join(dirname(fileURLToPath(import.meta.url)), '../../../docs/operator')
  : mkdtempSync(join(tmpdir(), 'tl-operator-shots-'));
const run = postgresEnabled() && chromiumAvailable() ? describe : describe.skip;

run('operator surface in Chromium', () => {
  let fx: Fixture;
  let browser: Browser;
  let server: Awaited<ReturnType<typeof serve>>;
  const outside: string[] = [];

  beforeAll(async () => {
    fx = await openFixture();
    // A sealed and verified trail, so the Integrity page and the home card show their filled state.
    await fx.tl.integrity.seal();
    await fx.tl.integrity.verify();
    browser = await launchChromium();
    server = await serve(
      {
        threadline: fx.tl,
        authorize: () => ({
          actor: ActorRef.user('op'),
          canExport: true,
          canSeeCoverage: true,
          canSeePolicy: true,
        }),
        basePath: '/audit',
      },
      '/audit',
    );
    mkdirSync(SHOTS, { recursive: true });
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await fx?.close();
  });

  async function open(path: string, theme: 'light' | 'dark' = 'light'): Promise<Page> {
    const context = await browser.newContext({ colorScheme: theme, viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('request', (r) => {
      if (!r.url().startsWith(server.url.replace('/audit', ''))) outside.push(r.url());
    });
    const res = await page.goto(`${server.url}${path}`);
    expect(res?.status(), path).toBe(200);
    return page;
  }

  async function noSeriousViolations(page: Page, label: string) {
    const result = await new AxeBuilder({ page }).analyze();
    const serious = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
    expect(
      serious.map((v) => `${label}: ${v.id} ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    ).toEqual([]);
  }

  const PAGES: [name: string, path: string][] = [
    ['home', '/'],
    ['timeline', '/timeline'],
    ['transaction', '/transaction?id=1'],
    ['row-history', '/row?table=posts&pk=1&at=2999-01-01T00:00:00Z'],
    ['actor', '/actor?actor=user:alice'],
    ['coverage', '/coverage'],
    ['integrity', '/integrity'],
    ['policy', '/policy'],
    ['retention', '/retention'],
    ['exports', '/exports'],
  ];

  it.each(['light', 'dark'] as const)(
    'opens every page, with no serious accessibility violation (%s theme)',
    async (theme) => {
      for (const [name, path] of PAGES) {
        const page = await open(path, theme);
        await noSeriousViolations(page, `${name} (${theme})`);
        await page.screenshot({ path: join(SHOTS, `${name}-${theme}.png`), fullPage: false });
        await page.context().close();
      }
    },
    600_000, // every page with axe: over 240 s at load 32
  );

  it('filters the timeline by table, actor and correlation id, pages through it, and drills down', async () => {
    const page = await open('/timeline');
    await page.fill('#f-table', 'posts');
    await page.fill('#f-actor', 'user:1');
    await page.click('button:text("Apply filters")');
    await page.waitForURL(/actor=user%3A1/);
    const rows = await page.locator('table.changes tbody tr').count();
    expect(rows).toBe(20); // ids 1..60 with i % 3 === 1
    const actors = await page.locator('table.changes tbody tr td:nth-child(5)').allInnerTexts();
    expect(new Set(actors)).toEqual(new Set(['user:1']));
    await page.goto(`${server.url}/timeline`);
    expect(await page.locator('table.changes tbody tr').count()).toBe(50);
    const firstPage = await page.locator('table.changes tbody tr td:nth-child(7)').allInnerTexts();
    await page.click('a[rel=next]');
    const secondPage = await page.locator('table.changes tbody tr td:nth-child(7)').allInnerTexts();
    expect(secondPage.length).toBe(20); // 70 changes: 60 inserts, 1 update, 2 order lines, 6 hostile rows, 1 delete
    expect(secondPage.filter((t) => firstPage.includes(t))).toEqual([]);
    await page.goto(`${server.url}/timeline?correlationId=req-update`);
    await page.click('table.changes tbody tr td:nth-child(7) a');
    await page.waitForURL(/\/audit\/transaction\?id=/);
    expect(await page.locator('h1').textContent()).toMatch(/^Transaction #\d+$/);
    expect(await page.locator('table.diff tr.redacted th').textContent()).toContain('secret');
    await page.click('section.change h3 a');
    await page.waitForURL(/\/audit\/row\?table=public.posts&pk=1/);
    expect(await page.locator('table.changes tbody tr').count()).toBe(2);
    await page.context().close();
  });

  it('is usable by keyboard: skip link, then filters submit with Enter', async () => {
    const page = await open('/timeline');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent ?? null)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    await page.focus('#f-correlation' + 'Id');
    await page.keyboard.type('req-delete');
    await page.keyboard.press('Enter');
    await page.waitForURL(/correlationId=req-delete/);
    expect(await page.locator('table.changes tbody tr').count()).toBe(1);
    await page.context().close();
  });

  it('runs no script from audit data and sends no request off the page', async () => {
    for (let i = 0; i < 6; i++) {
      const page = await open(`/transaction?id=${fx.transactions[62 + i]}`);
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
      await page.context().close();
    }
    expect(outside).toEqual([]);
  });

  it('the coverage pill turns from "All covered" to "1 uncovered" within one poll after a trigger is dropped', async () => {
    const polled = await serve(
      {
        threadline: fx.tl,
        authorize: () => ({ actor: ActorRef.user('op'), canSeeCoverage: true }),
        basePath: '/audit',
        pollSeconds: 5,
      },
      '/audit',
    );
    const context = await browser.newContext();
    const page = await context.newPage();
    try {
      await page.goto(`${polled.url}/timeline`);
      expect(await page.locator('#coverage-pill').innerText()).toBe('All covered');
      // A superuser can switch Threadline's event triggers off and drop a capture trigger.
      await fx.db.pool.query(`
        do $$ declare e text; begin for e in select evtname from pg_event_trigger where evtname like 'threadline\\_%' loop execute format('alter event trigger %I disable', e); end loop; end $$;
        drop trigger threadline_capture_delete on posts;
        do $$ declare e text; begin for e in select evtname from pg_event_trigger where evtname like 'threadline\\_%' loop execute format('alter event trigger %I enable always', e); end loop; end $$;`);
      await page.waitForFunction(
        () => document.getElementById('coverage-pill')?.textContent === '1 uncovered',
        undefined,
        {
          timeout: 12_000,
        },
      );
      expect(await page.locator('#coverage-pill').getAttribute('class')).toContain('pill-bad');
    } finally {
      await context.close();
      await polled.close();
      await fx.tl.installTriggers({ tables: ['posts'] });
    }
  });
});
