import { describeEachDb } from '@threadline/test-utils';
import { beforeAll, expect, it } from 'vitest';
import type { AuditChange, Page, Threadline } from '../src/index.js';
import { installed, uniqueName } from './helpers.js';

async function walk(
  next: (cursor: string | null) => Promise<Page<AuditChange>>,
  between: (pages: number) => Promise<void> = async () => {},
): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | null = null;
  for (let pages = 1; pages < 1000; pages++) {
    const page = await next(cursor);
    ids.push(...page.entries.map((e) => e.id));
    if (!page.hasMore) return ids;
    cursor = page.cursor;
    await between(pages);
  }
  throw new Error('too many pages');
}

// What docs/cli.md promises for a walk, exactly: every change committed before the first page is
// read comes exactly once; a change committed while the walk runs comes at most once, and comes
// only if it sorts after the walk's position when it commits. A transaction that was open when
// the walk passed its captured_at (changes are stamped when written, not when committed) is in the
// next walk, not in this one.
describeEachDb(
  'what a cursor walk guarantees while transactions commit',
  (db) => {
    let tl: Threadline;
    const t = uniqueName('walked');

    beforeAll(async () => {
      await db().exec(`create table ${t} (id int primary key, n int)`);
      tl = await installed(db());
      await tl.installTriggers({ tables: [t] });
    });

    it('returns every change committed before the walk once; a late commit behind the cursor is only in the next walk', async () => {
      for (let i = 1; i <= 4; i++) await tl.query(`insert into ${t} values ($1, 0)`, [i]);
      const pool = db().server!.newPool(1);
      const open = await pool.connect();
      try {
        // A transaction that writes now (captured_at now) and commits later.
        await open.query('begin');
        await open.query(`insert into ${t} values (10, 0)`);
        for (let i = 11; i <= 14; i++) await tl.query(`insert into ${t} values ($1, 0)`, [i]);
        const before = (await tl.timeline({ table: t }, { pageSize: 1000 })).entries;
        expect(before.map((e) => e.tablePk.id)).toEqual([14, 13, 12, 11, 4, 3, 2, 1]);
        const seen = await walk(
          (cursor) => tl.timeline({ table: t }, { pageSize: 2, cursor }),
          async (pages) => {
            // Pages [14, 13] [12, 11] [4, 3]: after the third the walk is past row 10's
            // captured_at, and row 10 commits only now. New changes keep arriving ahead of it.
            if (pages === 3) await open.query('commit');
            await tl.query(`update ${t} set n = n + 1 where id = 14`);
          },
        );
        expect(seen).toEqual(before.map((e) => e.id));
        const fresh = (await tl.timeline({ table: t }, { pageSize: 1000 })).entries;
        expect(fresh.filter((e) => e.op === 'insert').map((e) => e.tablePk.id)).toEqual([
          14, 13, 12, 11, 10, 4, 3, 2, 1,
        ]);
      } finally {
        open.release();
        await pool.end();
      }
    });
  },
  ['postgres'],
);
