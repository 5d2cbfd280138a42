import { ActorRef } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperatorSurface } from '../src/surface.js';
import { type Fixture, openFixture } from './fixture.js';

const run = postgresEnabled() ? describe : describe.skip;

run('operator surface: tamper evidence', () => {
  let fx: Fixture;
  beforeAll(async () => {
    fx = await openFixture();
  });
  afterAll(async () => {
    await fx?.close();
  });

  const surface = (canSeeCoverage: boolean) =>
    createOperatorSurface({
      threadline: fx.tl,
      authorize: () => ({ actor: ActorRef.user('op'), canSeeCoverage }),
    });
  const get = async (s: ReturnType<typeof surface>, path: string) => {
    const res = await s.fetch(new Request(`http://x${path}`));
    return { status: res.status, body: await res.text() };
  };

  it('shows "nothing sealed" and "never verified" before the first seal', async () => {
    const page = await get(surface(true), '/integrity');
    expect(page.status).toBe(200);
    expect(page.body).toContain('Nothing sealed yet');
    expect(page.body).toContain('Never verified');
    expect((await get(surface(true), '/')).body).toContain('Nothing sealed yet');
  });

  it('shows the last seal and verification on the home and integrity pages, and in the API', async () => {
    const sealed = await fx.tl.integrity.seal();
    await fx.tl.integrity.verify();
    const home = await get(surface(true), '/');
    expect(home.body).toMatch(/Last seal #<span class="val">\d+<\/span>/);
    expect(home.body).toMatch(/Last verification: <span class="sev sev-ok">OK<\/span>/);
    const page = await get(surface(true), '/integrity');
    expect(page.body).toContain(sealed.headHash!);
    expect(page.body).toContain('threadline verify-integrity');
    const api = await surface(true).fetch(new Request('http://x/api/integrity'));
    const json = (await api.json()) as { lastSeal: { hash: string }; lastVerification: { status: string } };
    expect(json.lastSeal.hash).toBe(sealed.headHash);
    expect(json.lastVerification.status).toBe('ok');
  });

  it('a failed verification shows its findings by kind, escaped even when the stored summary is hostile', async () => {
    await fx.db.pool.query(
      `update threadline.audit_changes set data_after = '{"title": "forged"}' where id = (select min(id) from threadline.audit_changes)`,
    );
    const result = await fx.tl.integrity.verify();
    expect(result.counts.altered).toBe(1);
    let page = await get(surface(true), '/integrity');
    expect(page.body).toContain('Tampering found');
    expect(page.body).toMatch(/<code><span class="val">altered<\/span><\/code> <span class="val">1<\/span>/);
    await fx.db.pool.query(
      `update threadline.integrity_verifications set summary = '{"counts": {"<script>window.__pwned=1</script>": 2}}' where id = $1`,
      [result.verificationId],
    );
    page = await get(surface(true), '/integrity');
    expect(page.body).not.toContain('<script>window');
    expect(page.body).toContain('&lt;script&gt;window.__pwned=1&lt;/script&gt;');
  });

  it('a grant without canSeeCoverage sees neither the page nor the home summary nor the API', async () => {
    const page = await get(surface(false), '/integrity');
    expect(page.body).toContain('canSeeCoverage: true');
    expect(page.body).not.toMatch(/[0-9a-f]{64}/);
    expect((await get(surface(false), '/')).body).not.toContain('Tamper evidence');
    const api = await surface(false).fetch(new Request('http://x/api/integrity'));
    expect(api.status).toBe(403);
  });
});
