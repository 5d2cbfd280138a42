import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

/**
 * A capture trigger or function that already depends on an extension (pg_depend deptype 'x':
 * ALTER ... DEPENDS ON EXTENSION made before DDL sync refused it, or by hand) is a silent kill
 * switch: DROP EXTENSION drops capture with it. Install and health name it, with the exact
 * NO DEPENDS statement, read from the catalogs only.
 */
describeEachDb('extension dependencies of capture', (db) => {
  it('install and health name a capture trigger and function that depend on an extension, with the NO DEPENDS fix', async () => {
    const t = uniqueName('extkill');
    await db().exec(`create table ${t} (id int primary key)`);
    const tl = await installed(db());
    await tl.installTriggers({ tables: [t] });
    const [{ fn, evt }] = (await db().sql<{ fn: string; evt: string }>(
      `select (select function_name from threadline.captured_tables where relid = $1::regclass) as fn,
              (select evtname from pg_event_trigger where evtfoid = 'threadline.sync_after_ddl'::regproc) as evt`,
      [t],
    )) as [{ fn: string; evt: string }];
    // As before the refusal existed: DDL sync off while the dependency is made.
    await db().exec(`alter event trigger ${evt} disable;
      alter trigger threadline_capture_delete on ${t} depends on extension plpgsql;
      alter event trigger ${evt} enable always;
      alter function threadline.${fn}() depends on extension plpgsql;`);

    const triggerFix = `ALTER TRIGGER "threadline_capture_delete" ON "public"."${t}" NO DEPENDS ON EXTENSION "plpgsql";`;
    const functionFix = `ALTER FUNCTION "threadline"."${fn}"() NO DEPENDS ON EXTENSION "plpgsql";`;
    const findings = (await tl.health.findings({ consistency: 'primary' })).filter((f) => f.table === t);
    expect(findings).toEqual([
      {
        code: 'extension_dependency',
        severity: 'error',
        schema: 'public',
        table: t,
        message: `${t}: capture trigger threadline_capture_delete depends on extension plpgsql; function threadline.${fn} depends on extension plpgsql; DROP EXTENSION would drop capture with it and nothing would record that capture stopped`,
        fix: `${triggerFix} ${functionFix}`,
      },
    ]);
    // Still capturing today: covered, but the CI gate fails on the error.
    const verify = await tl.health.verify({ expectedTables: [t] });
    expect(verify.tables).toEqual([{ table: t, status: 'covered', errors: ['extension_dependency'] }]);
    expect(verify.ok).toBe(false);

    const installFindings = (await tl.install()).findings.filter((f) => f.code === 'extension-dependency');
    expect(installFindings.map((f) => f.message)).toEqual(
      expect.arrayContaining([
        `capture trigger threadline_capture_delete on public.${t} depends on extension plpgsql: DROP EXTENSION plpgsql would drop it, and capture of that table would stop without a record. Remove the dependency: ALTER TRIGGER threadline_capture_delete ON public.${t} NO DEPENDS ON EXTENSION plpgsql;`,
        `function threadline.${fn}() depends on extension plpgsql: DROP EXTENSION plpgsql would drop it, and capture or Threadline's SQL would fail or stop without a record. Remove the dependency: ALTER FUNCTION threadline.${fn}() NO DEPENDS ON EXTENSION plpgsql;`,
      ]),
    );
    expect(installFindings).toHaveLength(2);

    // The named statements are the repair (DDL sync accepts removing the dependency).
    await db().exec(`${triggerFix} ${functionFix}`);
    expect((await tl.health.findings({ consistency: 'primary' })).filter((f) => f.table === t)).toEqual([]);
    expect((await tl.install()).findings.filter((f) => f.code === 'extension-dependency')).toEqual([]);
  });

  it('names an index of Threadline’s that depends on an extension at install; its own functions are re-created without one', async () => {
    const tl = await installed(db());
    await db().exec(`alter function threadline.capture_is_function(oid) depends on extension plpgsql;
      alter index threadline.audit_transactions_pkey depends on extension plpgsql;`);
    const found = (await tl.install()).findings.filter((f) => f.code === 'extension-dependency');
    expect(found.map((f) => [f.relation, f.message.replace(/:.*Remove the dependency: /, ' -> ')])).toEqual([
      [
        'threadline.audit_transactions_pkey',
        'index threadline.audit_transactions_pkey depends on extension plpgsql -> ALTER INDEX threadline.audit_transactions_pkey NO DEPENDS ON EXTENSION plpgsql;',
      ],
    ]);
    // CREATE OR REPLACE (install) drops a function's extension dependency: nothing left to report.
    const [dep] = await db().sql<{ n: number }>(
      `select count(*)::int as n from pg_depend where classid = 'pg_proc'::regclass and deptype = 'x'
          and objid = 'threadline.capture_is_function(oid)'::regprocedure`,
    );
    expect(dep!.n).toBe(0);
    await db().exec('alter index threadline.audit_transactions_pkey no depends on extension plpgsql');
    expect((await tl.install()).findings.filter((f) => f.code === 'extension-dependency')).toEqual([]);
  });
});
