import type { TableName } from '../capture/identifiers.js';
import { keysCondition, tableScope } from '../query/table-scope.js';
import { keyIdentity } from './key-identity.js';
import type { Run } from './load.js';
import { type ChangeTextRow, changeColumns, cmpId, type StoredChange, toStored } from './stored-changes.js';

/** Upper bound of a change id: no change is newer. */
export const MAX_ID = '9223372036854775807';

/**
 * A row target's changes carry their keys as the table reads them now (key_now): a key stored
 * before an ALTER TYPE of a key column (6.0000 under numeric(10,4), 1 under int) is the key the
 * row has under the type it has now (6.00, "1"), so the row's changes are followed, netted and
 * written by one key. Their jsonb is compared by value (keyIdentity: 1 and 1.0 are one key). Read
 * once per distinct stored key (a row's changes share a few), not once per change.
 */
async function withKeysNow(
  run: Run,
  q: string,
  table: TableName,
  rows: ChangeTextRow[],
): Promise<StoredChange[]> {
  const texts = new Set<string>();
  for (const r of rows) {
    texts.add(r.table_pk);
    if (r.table_pk_before !== null) texts.add(r.table_pk_before);
  }
  if (texts.size === 0) return [];
  const now = new Map<string, string>();
  for (const r of await run<{ k: string; n: string }>(
    `SELECT k.k, ${q}.key_now($1::text, $2::text, k.k::jsonb)::text AS n FROM unnest($3::text[]) AS k(k)`,
    [table.schema, table.name, [...texts]],
  ))
    now.set(r.k, r.n);
  return rows.map((r) => {
    const c = toStored(r);
    c.pk = now.get(r.table_pk) ?? r.table_pk;
    if (r.table_pk_before !== null) c.pkBefore = now.get(r.table_pk_before) ?? r.table_pk_before;
    return c;
  });
}

/**
 * The changes of `keys` (SQL jsonb[], `$3`) or moving away from them, of the table named by `$1` /
 * `$2`: along the key hash and key-before indexes, by every form a key may have been stored in
 * (key_forms: before an ALTER TYPE of a key column).
 */
const byKeys = (q: string) =>
  keysCondition(
    tableScope(q, '$1::text', '$2::text'),
    `ARRAY(SELECT tl_f.f FROM unnest($3::jsonb[]) AS tl_g(k) CROSS JOIN LATERAL unnest(${q}.key_forms(tl_g.k)) AS tl_f(f))`,
  );

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
    for (const k of keys) queried.add(keyIdentity(k));
    const rows = await run<ChangeTextRow>(
      `SELECT ${changeColumns} FROM ${q}.audit_changes c
        WHERE ${byKeys(q)} AND ${byTime ? 'c.captured_at > $4::timestamptz' : 'c.id > $4::bigint'} ORDER BY c.id`,
      [table.schema, table.name, keys, since],
    );
    const next: string[] = [];
    const found = new Set<string>();
    for (const r of await withKeysNow(
      run,
      q,
      table,
      rows.filter((x) => !seen.has(x.id)),
    )) {
      if (seen.has(r.id)) continue;
      seen.add(r.id);
      candidates.push(r);
      const to = keyIdentity(r.pk);
      if (r.pkBefore !== null && queried.has(keyIdentity(r.pkBefore)) && !queried.has(to) && !found.has(to)) {
        found.add(to);
        next.push(r.pk);
      }
    }
    keys = next;
  }
  candidates.sort((a, b) => cmpId(a.id, b.id)); // a row's changes in the order they happened
  // Follow the row: its key at the point, then every key an UPDATE gave it.
  let current = keyIdentity(start);
  const changes: StoredChange[] = [];
  for (const c of candidates) {
    if (c.pkBefore !== null && keyIdentity(c.pkBefore) === current) {
      changes.push(c);
      current = keyIdentity(c.pk);
    } else if (c.pkBefore === null && keyIdentity(c.pk) === current) changes.push(c);
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
        WHERE ${byKeys(q)} AND c.captured_at > $4::timestamptz AND c.id < $5::bigint ORDER BY c.id DESC`,
      [table.schema, table.name, [current], at, before],
    );
    const now = keyIdentity(current);
    const into = (await withKeysNow(run, q, table, rows)).find(
      (c) => keyIdentity(c.pk) === now && c.pkBefore !== null && keyIdentity(c.pkBefore) !== now,
    );
    if (!into) return current;
    current = into.pkBefore!;
    before = into.id;
  }
  return current;
}
