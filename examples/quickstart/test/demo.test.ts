import { createPglite, createTestDatabase, postgresEnabled } from '@threadline/test-utils';
import { describe, expect, it } from 'vitest';
import { runDemo } from '../src/demo.js';

function checkReport(text: string) {
  expect(text).toContain('admin:alice');
  expect(text).toMatch(/user:\d+/);
  expect(text).toContain('customer.onboarded');
  expect(text).toContain('onboard-acme');
  expect(text).toMatch(/role: "member" → "owner"/);
  expect(text).toMatch(/\{"org_id":1,"user_id":1\}/);
  expect(text).toContain('[REDACTED]');
  expect(text).toMatch(
    /Coverage \(what `threadline health coverage --schema demo_app` prints\)\n.*\n.*\ninvoices\s+covered\s*\nmemberships\s+covered\s*\norganizations\s+covered\s*\nusers\s+covered\s*\nschema_migrations\s+expected\s+baseline/,
  );
  for (const secret of ['bob@acme.test', 'robert@acme.test', 'not-a-real-hash', 'password_hash'])
    expect(text).not.toContain(secret);
}

describe('quickstart demo', () => {
  it('runs on embedded PGlite', async () => {
    const db = await createPglite();
    try {
      checkReport(await runDemo(db));
    } finally {
      await db.close();
    }
  });

  it.runIf(postgresEnabled())('runs on a real server and can run twice', async () => {
    const server = await createTestDatabase('tl_demo');
    try {
      await runDemo(server.pool);
      checkReport(await runDemo(server.pool));
    } finally {
      await server.drop();
    }
  });
});
