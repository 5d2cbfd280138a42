import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

/**
 * A capture function edited by hand to do nothing keeps every trigger in place, enabled and
 * calling the right function: only its body shows it. Coverage must not count such a table as
 * covered (found by the health hunt: only policy show noticed).
 */
describeEachDb('a capture function edited by hand', (db) => {
  it('is a capture_function_altered error and the table is uncovered until regenerated', async () => {
    const s = uniqueName('fx');
    await db().exec(`create schema ${s}; create table ${s}.a (id int primary key, v int);`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [`${s}.a`] });
    expect(await tl.health.findings({ schema: s })).toEqual([]);
    const [reg] = await db().sql<{ function_name: string }>(
      'select function_name from threadline.captured_tables where relid = $1::regclass',
      [`${s}.a`],
    );
    await db().exec(
      `create or replace function threadline.${reg!.function_name}() returns trigger language plpgsql as $b$ begin return null; end $b$`,
    );
    const findings = await tl.health.findings({ schema: s });
    expect(findings.map((f) => [f.table, f.code, f.severity, f.fix])).toEqual([
      ['a', 'capture_function_altered', 'error', `threadline gen-triggers --tables ${s}.a --apply`],
    ]);
    const coverage = await tl.health.coverage({ schema: s });
    expect(coverage.schemas[0]).toMatchObject({ covered: [], uncovered: ['a'] });
    expect((await tl.health.verify({ expectedTables: [`${s}.a`] })).tables).toEqual([
      { table: `${s}.a`, status: 'uncovered', errors: ['capture_function_altered'] },
    ]);
    // Keeping the generated checksum line but changing the body is caught as well.
    const [src] = await db().sql<{ prosrc: string }>(
      `select prosrc from pg_proc where proname = $1 and pronamespace = 'threadline'::regnamespace`,
      [reg!.function_name],
    );
    await tl.installTriggers({ tables: [`${s}.a`] });
    expect(await tl.health.findings({ schema: s })).toEqual([]);
    const [fresh] = await db().sql<{ prosrc: string }>(
      `select prosrc from pg_proc where proname = $1 and pronamespace = 'threadline'::regnamespace`,
      [reg!.function_name],
    );
    expect(src!.prosrc).not.toBe(fresh!.prosrc);
    const edited = fresh!.prosrc.replace("IF TG_OP = 'INSERT' THEN", "IF TG_OP = 'INSERT' AND false THEN");
    expect(edited).not.toBe(fresh!.prosrc);
    await db().exec(
      `create or replace function threadline.${reg!.function_name}() returns trigger language plpgsql as $b$${edited}$b$`,
    );
    expect((await tl.health.findings({ schema: s })).map((f) => f.code)).toEqual([
      'capture_function_altered',
    ]);
  });
});
