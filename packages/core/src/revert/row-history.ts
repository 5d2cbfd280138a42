import type { TableName } from '../capture/identifiers.js';
import { keysCondition, tableScope } from '../query/table-scope.js';
import type { Run } from './load.js';
import { type ChangeTextRow, changeColumns, cmpId, type StoredChange, toStored } from './stored-changes.js';

/** Upper bound of a change id: no change is newer. */
export const MAX_ID = '9223372036854775807';

/** The changes of the row that had key `start` at the point (after `since`), following its key changes. */
export async function followRow(
  run: Run,
  q: string,
  table: TableName,
  start: string,
  since: string,
  byTime: boolean,
): Promise<StoredChange[]> {
  const candidates: StoredChange[] = [];
  const seen = new Set<string>();
  const queried = new Set<string>();
  let keys = [start];
  // Fetch changes of every key the row has had since the point, until no new key turns up.
  for (let round = 0; round < 100 && keys.length > 0; round++) {
    for (const k of keys) queried.add(k);
    const rows = await run<ChangeTextRow>(
      `SELECT ${changeColumns} FROM ${q}.audit_changes c
        WHERE ${keysCondition(tableScope(q, '$1::text', '$2::text'), '$3::jsonb[]')}
          AND ${byTime ? 'c.captured_at > $4::timestamptz' : 'c.id > $4::bigint'} ORDER BY c.id`,
      [table.schema, table.name, keys, since],
    );
    const next: string[] = [];
    for (const r of rows.map(toStored)) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      candidates.push(r);
      if (r.pkBefore !== null && queried.has(r.pkBefore) && !queried.has(r.pk) && !next.includes(r.pk))
        next.push(r.pk);
    }
    keys = next;
  }
  candidates.sort((a, b) => cmpId(a.id, b.id)); // a row's changes in the order they happened
  // Follow the row: its key at the point, then every key an UPDATE gave it.
  let current = start;
  const changes: StoredChange[] = [];
  for (const c of candidates) {
    if (c.pkBefore !== null && c.pkBefore === current) {
      changes.push(c);
      current = c.pk;
    } else if (c.pkBefore === null && c.pk === current) changes.push(c);
  }
  return changes;
}

/**
 * The key the row that holds `key` now had at instant `at`: each key change into it since (the
 * newest first, each before the one found after it) leads back to the key before.
 */
export async function keyAtPoint(
  run: Run,
  q: string,
  table: TableName,
  key: string,
  at: string,
): Promise<string> {
  let current = key;
  let before = MAX_ID;
  for (let round = 0; round < 100; round++) {
    const rows = await run<ChangeTextRow>(
      `SELECT ${changeColumns} FROM ${q}.audit_changes c
        WHERE ${keysCondition(tableScope(q, '$1::text', '$2::text'), '$3::jsonb[]')}
          AND c.captured_at > $4::timestamptz AND c.id < $5::bigint ORDER BY c.id DESC`,
      [table.schema, table.name, [current], at, before],
    );
    const into = rows
      .map(toStored)
      .find((c) => c.pk === current && c.pkBefore !== null && c.pkBefore !== current);
    if (!into) return current;
    current = into.pkBefore!;
    before = into.id;
  }
  return current;
}
