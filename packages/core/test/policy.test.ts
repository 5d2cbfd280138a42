import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { createThreadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

describeEachDb('tl.policy.show', (db) => {
  it('compares configured with deployed redaction: matches, drift, not_deployed, could_not_introspect', async () => {
    const [a, b, c, d] = [uniqueName('pa'), uniqueName('pb'), uniqueName('pc'), uniqueName('pd')];
    for (const t of [a, b, c, d])
      await db().exec(`create table ${t} (id int primary key, email text, ssn text, note text)`);
    const deployedWith = {
      [a]: { mask: ['email'] },
      [b]: { mask: ['email'], exclude: ['ssn'], maskPlaceholder: '***' },
      [d]: { exclude: ['ssn'] },
    };
    const installer = await installed(db(), deployedWith);
    await installer.installTriggers({ tables: [a, b, d] });
    await db().exec(`insert into ${a} values (1, 'secret-value@example.com', 'ssn-123-45', 'n')`);
    // d's function is edited by hand: its deployed redaction can no longer be read back.
    const [reg] = await db().sql<{ function_name: string }>(
      'select function_name from threadline.captured_tables where relid = $1::regclass',
      [d],
    );
    const [src] = await db().sql<{ prosrc: string }>(
      "select prosrc from pg_proc where proname = $1 and pronamespace = 'threadline'::regnamespace",
      [reg!.function_name],
    );
    await db().exec(
      `create or replace function threadline.${reg!.function_name}() returns trigger language plpgsql as $body$${src!.prosrc}
-- edited by hand: stops excluding ssn$body$`,
    );
    const tl = createThreadline({
      db: db().db,
      tables: {
        [a]: { mask: ['email'] },
        [b]: { mask: ['email', 'note'], exclude: [] },
        [c]: { mask: ['email'] },
        [d]: { exclude: ['ssn'] },
      },
    });
    const report = await tl.policy.show({ tables: [a, b, c, d] });
    expect(report.tables.map((t) => [t.table, t.state])).toEqual([
      [a, 'matches'],
      [b, 'drift'],
      [c, 'not_deployed'],
      [d, 'could_not_introspect'],
    ]);
    expect(report.tables[0]).toEqual({
      table: a,
      state: 'matches',
      inConfig: true,
      configured: { exclude: [], mask: ['email'], maskPlaceholder: '[REDACTED]' },
      deployed: { exclude: [], mask: ['email'], maskPlaceholder: '[REDACTED]' },
      differences: [],
    });
    expect(report.tables[1]!.differences).toEqual([
      { field: 'exclude', configured: [], deployed: ['ssn'] },
      { field: 'mask', configured: ['email', 'note'], deployed: ['email'] },
      { field: 'maskPlaceholder', configured: '[REDACTED]', deployed: '***' },
    ]);
    expect(report.tables[1]!.reason).toBe(
      `capture was generated with other options; run threadline gen-triggers --tables ${b} --apply`,
    );
    expect(report.tables[2]!.reason).toBe(
      `no capture is installed; run threadline gen-triggers --tables ${c} --apply`,
    );
    expect(report.tables[3]!.deployed).toBeNull();
    expect(report.tables[3]!.reason).toContain(
      'is not the one Threadline generates for its registered options',
    );
    const text = JSON.stringify(report);
    expect(text).not.toContain('secret-value');
    expect(text).not.toContain('ssn-123');
  });

  it('lists captured tables that are not in the config (configured: no redaction) by default', async () => {
    const t = uniqueName('pe');
    await db().exec(`create table ${t} (id int primary key, email text)`);
    const installer = await installed(db(), { [t]: { mask: ['email'] } });
    await installer.installTriggers({ tables: [t] });
    const report = await createThreadline({ db: db().db }).policy.show();
    const entry = report.tables.find((e) => e.table === t)!;
    expect(entry).toMatchObject({ state: 'drift', inConfig: false });
    expect(entry.differences).toEqual([{ field: 'mask', configured: [], deployed: ['email'] }]);
  });
});
