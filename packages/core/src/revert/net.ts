import { parseRawObject, type RawImage, rawObjectText } from './raw-json.js';
import type { StoredChange } from './stored-changes.js';
import type { TableMeta } from './tables.js';
import type { RevertStepOp } from './types.js';

export type Unknown = 'excluded' | 'masked' | 'changedFrom: false' | 'deleteSnapshot: false' | 'dropped';

/** One row's reverted changes, collapsed: how it was before the first and after the last. */
interface RowState {
  beforeKey: string;
  afterKey: string;
  /** null: the row did not exist before the first change (it was inserted). */
  before: RawImage | null;
  /** Columns whose value before the first change was never stored, and why. */
  unknown: Map<string, Unknown>;
  /** The first change was a DELETE of a table without delete snapshots. */
  noSnapshot: boolean;
  after: RawImage | null;
  /** The stored text of `after` (data_after of the last change), used as the expected row. */
  afterText: string | null;
  /** Columns some UPDATE in the set changed. */
  touched: Set<string>;
  /** The row was deleted and inserted again within the set. */
  recreated: boolean;
  last: StoredChange;
}

/** The net compensating action for one row, before SQL is attached. */
export interface NetStep {
  op: RevertStepOp;
  key: string;
  data: string | null;
  expect: string | null;
  setColumns: string[];
  /** Columns whose old value is needed but was never stored, with why. */
  notStored: ReadonlyMap<string, Unknown>;
  /** The newest reverted change of the row. */
  last: { id: string; capturedAt: string };
  /** `key` and `data` parsed for display, where already parsed (set-steps.ts). */
  pk?: Record<string, unknown>;
  set?: Record<string, unknown> | undefined;
}

function redactedUnknown(meta: TableMeta): Map<string, Unknown> {
  const unknown = new Map<string, Unknown>();
  for (const c of meta.exclude) unknown.set(c, 'excluded');
  for (const c of meta.mask) unknown.set(c, 'masked');
  return unknown;
}

/**
 * Portable-mode capture stores `{"threadline": "hidden: ..."}` instead of an image when the table
 * changed shape since its capture was generated: treat that like a value that was not stored.
 */
function stored(image: RawImage | null, meta: TableMeta): RawImage | null {
  if (image === null) return null;
  return image.size === 1 && image.has('threadline') && !meta.writable.includes('threadline') ? null : image;
}

function firstState(c: StoredChange, meta: TableMeta): RowState {
  const base = { touched: new Set<string>(), recreated: false, last: c, noSnapshot: false, afterText: null };
  if (c.op === 'insert')
    return {
      ...base,
      beforeKey: c.pk,
      afterKey: c.pk,
      before: null,
      unknown: new Map(),
      after: parseRawObject(c.dataAfter),
      afterText: c.dataAfter,
    };
  if (c.op === 'delete') {
    const before = stored(parseRawObject(c.dataBefore), meta);
    const unknown = redactedUnknown(meta);
    for (const col of unknown.keys()) before?.delete(col);
    return {
      ...base,
      beforeKey: c.pk,
      afterKey: c.pk,
      before: before ?? new Map(),
      noSnapshot: before === null,
      unknown,
      after: null,
    };
  }
  // UPDATE: the new row with the old values of the changed fields (and the old key) laid over it.
  const after = parseRawObject(c.dataAfter) ?? new Map<string, string>();
  const before = new Map(after);
  const unknown = redactedUnknown(meta);
  const from = stored(parseRawObject(c.changedFrom), meta);
  for (const [k, v] of from ?? []) before.set(k, v);
  for (const [k, v] of parseRawObject(c.pkBefore) ?? []) before.set(k, v);
  if (from === null)
    for (const col of c.changedFields ?? [])
      if (!meta.keyColumns.includes(col)) unknown.set(col, 'changedFrom: false');
  for (const col of unknown.keys()) before.delete(col);
  const beforeKey = c.pkBefore ?? c.pk;
  return {
    ...base,
    touched: new Set(c.changedFields ?? []),
    beforeKey,
    afterKey: c.pk,
    before,
    unknown,
    after,
    afterText: c.dataAfter,
  };
}

function advance(state: RowState, c: StoredChange): void {
  state.last = c;
  if (c.op === 'update') {
    for (const col of c.changedFields ?? []) state.touched.add(col);
    state.after = parseRawObject(c.dataAfter);
    state.afterText = c.dataAfter;
    state.afterKey = c.pk;
  } else if (c.op === 'delete') {
    state.after = null;
    state.afterText = null;
    state.afterKey = c.pk;
  } else if (c.op === 'insert') {
    if (state.before !== null) state.recreated = true;
    state.after = parseRawObject(c.dataAfter);
    state.afterText = c.dataAfter;
    state.afterKey = c.pk;
  }
}

/**
 * Collapse one table's changes (oldest first, no TRUNCATE) into one net step per row. Under a
 * DEFERRABLE key, a change of a key that a row had just moved into (or been inserted at) may be
 * another row's, which still held the key: the keys of such rows go to `unknowable` (the plan
 * refuses them as key_cycle) whatever their step.
 */
export function netSteps(
  changes: StoredChange[],
  meta: TableMeta,
  unknowable: string[] = [],
  unordered: string[] = [],
): NetStep[] {
  // A row with one change (the bulk case) stays a bare change: its step comes straight from the
  // stored texts. Row images are only parsed for rows changed more than once.
  type Entry = { v: RowState | StoredChange; ambiguous?: boolean; unordered?: boolean };
  const byKey = new Map<string, Entry>();
  const rows: Entry[] = [];
  for (const c of changes) {
    const lookup = c.op === 'update' ? (c.pkBefore ?? c.pk) : c.pk;
    const found = byKey.get(lookup);
    let entry: Entry;
    if (found === undefined) {
      entry = { v: c };
      rows.push(entry);
    } else {
      // Under a DEFERRABLE key the row found may have moved in (or been inserted) while the key's
      // previous row still held it: this change may be either row's.
      const movedIn = meta.deferrableKey === true && arrived(found) && !sameRow(found, c, meta);
      if (!movedIn && contradicts(found, c, meta)) found.unordered = true;
      if ('transactionId' in found.v) found.v = firstState(found.v, meta);
      const state = found.v as RowState;
      if (c.op === 'insert' && state.after !== null) {
        entry = { v: c }; // a new row under a key that already has one: keep them apart
        rows.push(entry);
        if (meta.deferrableKey) entry.ambiguous = found.ambiguous = true;
      } else {
        advance(state, c);
        entry = found;
        if (movedIn) entry.ambiguous = true;
      }
    }
    byKey.delete(lookup);
    byKey.set('transactionId' in entry.v ? entry.v.pk : entry.v.afterKey, entry);
  }
  const steps: NetStep[] = [];
  for (const { v: row, ambiguous, unordered: outOfOrder } of rows) {
    if (ambiguous) unknowable.push('transactionId' in row ? row.pk : row.afterKey);
    else if (outOfOrder) unordered.push('transactionId' in row ? row.pk : row.afterKey);
    const step = 'transactionId' in row ? single(row, meta) : decide(row, meta);
    if (step) steps.push(step);
  }
  return steps;
}

/**
 * The row's last change brought it to the key it has (an insert, or a key change), so another row
 * may have held the key too at that moment, if the key is deferrable.
 */
function arrived(entry: { v: RowState | StoredChange }): boolean {
  const last = 'transactionId' in entry.v ? entry.v : entry.v.last;
  return last.op === 'insert' || (last.op === 'update' && last.pkBefore !== null);
}

/**
 * The row `c` changed is the one `entry` left at the key: the row as `c` found it (its before
 * image) is exactly the row as the entry's last change left it. Two rows holding one key at once
 * differ in some stored value (or are indistinguishable, and then either reading restores the
 * same table); an image not stored in full (changedFrom: false, a delete without its snapshot,
 * portable-mode hidden images) cannot tell, so it counts as another row.
 */
function sameRow(entry: { v: RowState | StoredChange }, c: StoredChange, meta: TableMeta): boolean {
  const left = leftImage(entry, meta);
  const found = left === null ? null : foundImage(c, meta);
  if (left === null || found === null || !found.complete || found.image.size !== left.size) return false;
  for (const [k, v] of found.image) if (left.get(k) !== v) return false;
  return true;
}

/**
 * Within one transaction, `c` found the row in another state than the entry's last change left it
 * (a stored column differs): the changes were captured in another order than they happened, as
 * when an AFTER ROW trigger (or an AFTER STATEMENT trigger that runs before capture's) changes the
 * row its statement just changed: the inner statement's capture runs first. Netting them in
 * capture order would restore a state the row never had. Only what both images stored is
 * compared (a column added or dropped between them, excluded, masked or unknown columns are not),
 * and changes of different transactions are not (another transaction's change in between is a
 * changed_since conflict).
 */
function contradicts(entry: { v: RowState | StoredChange }, c: StoredChange, meta: TableMeta): boolean {
  const last = 'transactionId' in entry.v ? entry.v : entry.v.last;
  if (last.transactionId !== c.transactionId) return false;
  const left = leftImage(entry, meta);
  const found = left === null ? null : foundImage(c, meta);
  if (left === null || found === null) return false;
  for (const [k, v] of found.image) {
    if (meta.exclude.includes(k) || meta.mask.includes(k)) continue;
    const was = left.get(k);
    if (was !== undefined && was !== v) return true;
  }
  return false;
}

/** The row as the entry's last change left it (null: not stored, or no row). */
function leftImage(entry: { v: RowState | StoredChange }, meta: TableMeta): RawImage | null {
  return 'transactionId' in entry.v ? stored(parseRawObject(entry.v.dataAfter), meta) : entry.v.after;
}

/**
 * The row as `c` found it: a delete's snapshot, or an update's new row with the old values of its
 * changed fields and its old key laid over it. `complete` is false when the update stored no old
 * values (changedFrom: false): the changed fields are then left out. Null: an insert, or an image
 * not stored.
 */
function foundImage(c: StoredChange, meta: TableMeta): { image: RawImage; complete: boolean } | null {
  if (c.op === 'insert') return null;
  if (c.op === 'delete') {
    const image = stored(parseRawObject(c.dataBefore), meta);
    return image === null ? null : { image, complete: true };
  }
  const image = stored(parseRawObject(c.dataAfter), meta);
  if (image === null) return null;
  const from = stored(parseRawObject(c.changedFrom), meta);
  if (from === null) for (const col of c.changedFields ?? []) image.delete(col);
  else for (const [k, v] of from) image.set(k, v);
  for (const [k, v] of parseRawObject(c.pkBefore) ?? []) image.set(k, v);
  return { image, complete: from !== null };
}

/** The step for a row with exactly one reverted change, from the stored texts. */
function single(c: StoredChange, meta: TableMeta): NetStep | null {
  const base = { last: c, notStored: new Map<string, Unknown>() };
  if (c.op === 'insert')
    return { ...base, op: 'delete', key: c.pk, data: null, expect: c.dataAfter, setColumns: [] };
  if (c.op === 'delete') return decide(firstState(c, meta), meta);
  const from = stored(parseRawObject(c.changedFrom), meta);
  const notStored = new Map<string, Unknown>();
  const set: string[] = [];
  for (const col of c.changedFields ?? []) {
    if (!meta.writable.includes(col)) {
      if (!meta.columns.includes(col)) notStored.set(col, 'dropped');
      continue;
    }
    const why: Unknown | undefined = meta.exclude.includes(col)
      ? 'excluded'
      : meta.mask.includes(col)
        ? 'masked'
        : from === null && !meta.keyColumns.includes(col)
          ? 'changedFrom: false'
          : undefined;
    if (why) notStored.set(col, why);
    else set.push(col);
  }
  const old = new Map(from ?? []);
  for (const [k, v] of parseRawObject(c.pkBefore) ?? []) old.set(k, v);
  if (set.length === 0 && notStored.size === 0) return null;
  return {
    ...base,
    notStored,
    op: 'update',
    key: c.pk,
    data: rawObjectText(old, set),
    expect: c.dataAfter,
    setColumns: set,
  };
}

function decide(row: RowState, meta: TableMeta): NetStep | null {
  const base = { last: row.last, setColumns: [] as string[], notStored: new Map<string, Unknown>() };
  if (row.before === null) {
    if (row.after === null) return null; // inserted and deleted again: nothing to undo
    return {
      ...base,
      op: 'delete',
      key: row.afterKey,
      data: null,
      expect: row.afterText ?? rawObjectText(row.after),
    };
  }
  const allUnknown = (): Map<string, Unknown> =>
    row.noSnapshot ? new Map(meta.writable.map((c) => [c, 'deleteSnapshot: false'])) : row.unknown;
  if (row.after === null) {
    const columns = meta.writable.filter((c) => row.before!.has(c));
    return {
      ...base,
      op: 'insert',
      key: row.beforeKey,
      data: rawObjectText(row.before, columns),
      expect: null,
      setColumns: columns,
      notStored: allUnknown(),
    };
  }
  const after = row.after;
  const set = meta.writable.filter(
    (c) => row.before!.has(c) && after.has(c) && after.get(c) !== row.before!.get(c),
  );
  const notStored = new Map<string, Unknown>();
  for (const [col, why] of allUnknown())
    if (row.recreated || row.noSnapshot || row.touched.has(col)) notStored.set(col, why);
  for (const col of row.touched) if (!meta.columns.includes(col)) notStored.set(col, 'dropped');
  if (set.length === 0 && notStored.size === 0) return null; // back where it started
  return {
    ...base,
    op: 'update',
    key: row.afterKey,
    data: rawObjectText(row.before, set),
    expect: row.afterText ?? rawObjectText(after),
    setColumns: set,
    notStored,
  };
}
