import { ActorRef, createThreadline, runWithAuditContext } from '@threadline/core';
import { expect, it } from 'vitest';
import { describeWithDatabase, runCli, tempDir } from './helpers.js';

describeWithDatabase('threadline seal / verify-integrity', (db) => {
  const env = () => ({ DATABASE_URL: db().url });

  it('seals, verifies clean (exit 0), names an altered row in the table and --json (exit 1)', async () => {
    const tl = createThreadline({ db: db().pool });
    await tl.install();
    await db().pool.query('create table cli_seal (id int primary key, note text)');
    await tl.installTriggers({ tables: ['cli_seal'] });
    for (let i = 1; i <= 3; i++) {
      await runWithAuditContext({ actor: ActorRef.user('w') }, () =>
        tl.transaction((tx) => tx.query('insert into cli_seal values ($1, $2)', [i, `<b>${i}</b>`])),
      );
    }
    const cwd = tempDir();
    const sealed = await runCli(['seal'], { env: env(), cwd });
    expect(sealed.code).toBe(0);
    expect(sealed.stdout).toMatch(/Sealed 6 rows in 2 links/);
    expect(sealed.stdout).toMatch(/Chain head: [0-9a-f]{64}/);
    const clean = await runCli(['verify-integrity'], { env: env(), cwd });
    expect(clean.code).toBe(0);
    expect(clean.stdout).toContain('checked 2 seals, 6 rows: 0 altered');
    expect(clean.stdout).toContain('verify-integrity: OK');
    await db().pool.query(
      `update threadline.audit_changes set data_after = '{"id": 2, "note": "forged"}' where table_pk = '{"id": 2}'`,
    );
    const tampered = await runCli(['verify-integrity'], { env: env(), cwd });
    expect(tampered.code).toBe(1);
    expect(tampered.stdout).toMatch(/altered\s+audit_changes\s+\d+\s+public\.cli_seal \{"id":2\}/);
    expect(tampered.stdout).toContain('verify-integrity: FAILED');
    const json = await runCli(['verify-integrity', '--json'], { env: env(), cwd });
    expect(json.code).toBe(1);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.counts.altered).toBe(1);
    expect(parsed.findings[0]).toMatchObject({ kind: 'altered', table: 'public.cli_seal', pk: { id: 2 } });
    const bad = await runCli(['verify-integrity', '--from', 'soon'], { env: env(), cwd });
    expect(bad.code).toBe(2);
    const reversed = await runCli(['verify-integrity', '--from', '2030-01-01', '--to', '2020-01-01'], {
      env: env(),
      cwd,
    });
    expect(reversed.code).toBe(2);
    expect(reversed.stderr).toMatch(/from \(.*\) is after to/);
    expect((await runCli(['seal', '--chunk-size', 'x'], { env: env(), cwd })).code).toBe(2);
  });
});
