import { parseExactJson } from '../query/exact-json.js';
import type { Run } from './load.js';
import type { NetStep } from './net.js';
import type { TableMeta } from './tables.js';

interface CascadeKey {
  child: string;
  parent: string;
  childColumns: string[];
  parentColumns: string[];
}

/** Foreign keys with ON UPDATE CASCADE between tables of the plan. */
async function cascadeKeys(run: Run, metas: Map<string, TableMeta>): Promise<CascadeKey[]> {
  const ids = [...metas.keys()];
  if (ids.length < 2) return [];
  const rows = await run<{ child: number; parent: number; cc: string[]; pc: string[] }>(
    `WITH t AS (SELECT i::int AS i, to_regclass(format('%I.%I', s, n)) AS rel FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(s, n, i))
     SELECT c.i AS child, p.i AS parent,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n ORDER BY k.o) AS cc,
            ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY k(n, o) JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n ORDER BY k.o) AS pc
       FROM pg_constraint con JOIN t c ON c.rel = con.conrelid JOIN t p ON p.rel = con.confrelid
      WHERE con.contype = 'f' AND con.confupdtype = 'c' AND con.conrelid <> con.confrelid`,
    [ids.map((id) => metas.get(id)!.schema), ids.map((id) => metas.get(id)!.name)],
  );
  return rows.map((r) => ({
    child: ids[Number(r.child) - 1]!,
    parent: ids[Number(r.parent) - 1]!,
    childColumns: r.cc,
    parentColumns: r.pc,
  }));
}

const pick = (row: Record<string, unknown>, columns: string[]) => JSON.stringify(columns.map((c) => row[c]));
const image = (text: string | null) =>
  text === null ? null : (parseExactJson(text) as Record<string, unknown>);

/**
 * Child UPDATE steps that only undo what an ON UPDATE CASCADE did when a reverted parent key
 * changed: reverting the parent's key cascades to them again, so they are part of the parent's
 * step (written by PostgreSQL), not steps of their own — as separate steps they would find the
 * row already changed and fail.
 */
export async function cascadedSteps(
  run: Run,
  metas: Map<string, TableMeta>,
  nets: Map<string, NetStep[]>,
): Promise<Set<NetStep>> {
  const cascaded = new Set<NetStep>();
  const keys = (await cascadeKeys(run, metas)).filter(
    (k) =>
      nets.get(k.parent)?.some((s) => s.op === 'update') && nets.get(k.child)?.some((s) => s.op === 'update'),
  );
  if (keys.length === 0) return cascaded;
  // Per foreign key: the parent key now -> the key the revert gives back.
  const restores = keys.map((k) => {
    const back = new Map<string, string>();
    for (const s of nets.get(k.parent)!) {
      if (s.op !== 'update') continue;
      const now = image(s.expect);
      const then = image(s.data);
      if (!now || !then) continue;
      const from = pick(now, k.parentColumns);
      const to = pick(then, k.parentColumns);
      if (from !== to) back.set(from, to);
    }
    return back;
  });
  const byChild = new Map<string, number[]>();
  for (const [i, k] of keys.entries()) byChild.set(k.child, [...(byChild.get(k.child) ?? []), i]);
  for (const [child, indexes] of byChild) {
    for (const s of nets.get(child)!) {
      if (s.op !== 'update' || s.setColumns.length === 0) continue;
      const now = image(s.expect);
      const then = image(s.data);
      if (!now || !then) continue;
      const covered = new Set<string>();
      let ok = true;
      for (const i of indexes) {
        const k = keys[i]!;
        if (!k.childColumns.some((c) => s.setColumns.includes(c))) continue;
        if (restores[i]!.get(pick(now, k.childColumns)) !== pick(then, k.childColumns)) ok = false;
        for (const c of k.childColumns) covered.add(c);
      }
      if (ok && s.setColumns.every((c) => covered.has(c))) cascaded.add(s);
    }
  }
  return cascaded;
}
