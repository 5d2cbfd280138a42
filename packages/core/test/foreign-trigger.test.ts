import { describeEachDb } from '@threadline/test-utils';
import { expect, it } from 'vitest';
import { installed, uniqueName } from './helpers.js';

function withoutGuards(ddl: string): string {
  const toggle = (how: string) =>
    `do $$ declare e text; begin for e in select evtname from pg_event_trigger where evtname like 'threadline\\_%' loop execute format('alter event trigger %I ${how}', e); end loop; end $$;`;
  return `${toggle('disable')} ${ddl}; ${toggle('enable always')}`;
}

/**
 * A hand-written trigger on table B that calls table A's capture function (health reports it as
 * a foreign trigger) must not cost B its own capture: regenerating or removing A's capture used
 * to drop B's statement-start trigger along with the foreign one.
 */
describeEachDb('a foreign trigger on another captured table', (db) => {
  const beforeTriggers = async (table: string) =>
    db().sql<{ n: number }>(
      `select count(*)::int as n from pg_trigger where tgrelid = $1::regclass and tgname = 'threadline_capture_before'`,
      [table],
    );

  for (const operation of ['installTriggers', 'removeTriggers'] as const) {
    it(`${operation} on A keeps B's statement-start trigger`, async () => {
      const a = uniqueName('fa');
      const b = uniqueName('fb');
      await db().exec(
        `create table ${a} (id int primary key, v int); create table ${b} (id int primary key, v int);`,
      );
      const tl = await installed(db());
      const [planA] = await tl.installTriggers({ tables: [a, b] });
      // As someone with the event triggers off would (the guard refuses it otherwise).
      await db().exec(
        withoutGuards(`create trigger hand_written after insert on ${b} referencing new table as threadline_new_rows
           for each statement execute function threadline.${planA!.functionName}()`),
      );
      if (operation === 'installTriggers') await tl.installTriggers({ tables: [a] });
      else await tl.removeTriggers({ tables: [a] });
      expect(await beforeTriggers(b)).toEqual([{ n: 1 }]);
      const report = await tl.health.verify({ expectedTables: [b] });
      expect(report.tables[0]?.status).toBe('covered');
      expect(report.tables[0]?.errors).not.toContain('capture_trigger_missing');
    });
  }
});
