import { ActorRef } from '@threadline/core';
import { postgresEnabled } from '@threadline/test-utils';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOperatorSurface, type OperatorSurface } from '../src/surface.js';
import { type Fixture, openFixture } from './fixture.js';

const run = postgresEnabled() ? describe : describe.skip;

run('operator surface: exports', () => {
  let fx: Fixture;
  let surface: OperatorSurface;
  beforeAll(async () => {
    fx = await openFixture();
    surface = createOperatorSurface({
      threadline: fx.tl,
      authorize: (req) =>
        req.headers.get('x-who') === 'viewer'
          ? { actor: ActorRef.user('viewer') }
          : { actor: ActorRef.admin('ops'), canExport: true },
    });
  });
  afterAll(async () => {
    await fx?.close();
  });

  it('a CSV download holds exactly what tl.export gives for the same filters, and is recorded as the operator', async () => {
    const res = await surface.fetch(
      new Request('http://x/exports/download?format=csv&table=posts&actor=user:1'),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('content-disposition')).toBe('attachment; filename="threadline-export.csv"');
    const body = await res.text();
    const direct = await fx.tl.export.toBuffer(
      { table: 'posts', actor: 'user:1' },
      { format: 'csv', maxRows: 100_000, actor: ActorRef.admin('checker') },
    );
    const normalise = (csv: string) => csv.split('\r\n').filter((line) => !line.startsWith('id,'));
    expect(normalise(body)).toEqual(normalise(direct.data.toString('utf8')));
    expect(normalise(body).filter((l) => l !== '')).toHaveLength(20);
    const recorded = await fx.db.pool.query(
      `select actor_ref from threadline.audit_actions where name = 'threadline.export' order by inserted_at`,
    );
    expect(recorded.rows.map((r) => r.actor_ref)).toContainEqual({ type: 'admin', id: 'ops' });
  });

  it('refuses a download without canExport, even by URL', async () => {
    const res = await surface.fetch(
      new Request('http://x/exports/download?format=csv', { headers: { 'x-who': 'viewer' } }),
    );
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('post 1');
  });

  it('refuses an unknown format and a bad filter with 400', async () => {
    expect((await surface.fetch(new Request('http://x/exports/download?format=xml'))).status).toBe(400);
    expect(
      (await surface.fetch(new Request('http://x/exports/download?format=csv&from=yesterday'))).status,
    ).toBe(400);
  });
});
