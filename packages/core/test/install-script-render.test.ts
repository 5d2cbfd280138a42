import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { createThreadline } from '../src/index.js';
import { installScript } from '../src/install/install-script.js';

// The storage schema is substituted into the install script in one pass: a schema name that
// itself looks like a placeholder (`@S`, `@LIT`) is inserted as is, never expanded again.
it('a schema named like a placeholder is substituted once', () => {
  const script = installScript('tl@Sx');
  expect(script).toContain(`'"tl@Sx".capture_pending'::pg_catalog.regclass`);
  expect(script).toContain('"tl@Sx".audit_changes');
  expect(script).not.toContain('"tl"tl@Sx"x"');
  expect(script).not.toContain('tl"tl@Sx"x');
  expect(installScript('a@LITb')).not.toContain(`a'a@LITb'b`);
});

describeEachDb('a storage schema whose name holds @S', (db) => {
  it('installs', async () => {
    const schema = `tl@S${Date.now().toString(36)}`;
    const tl = createThreadline({ db: db().db, schema });
    await tl.install();
    const rows = await db().sql<{ n: string }>(
      'select count(*)::text as n from pg_proc where pronamespace = to_regnamespace($1)',
      [`"${schema}"`],
    );
    expect(Number(rows[0]?.n)).toBeGreaterThan(10);
  });
});
