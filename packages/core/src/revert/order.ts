import type { Run } from './load.js';

/** A table as schema and name; `id` is a stable key for maps. */
export interface TableRef {
  id: string;
  schema: string;
  name: string;
}

export interface TableOrder {
  /** Parents before children. Tables in a cycle come last, in the order given. */
  order: string[];
  /** Each foreign-key cycle among the tables (two or more tables), as table ids. */
  cycles: string[][];
}

/** Foreign keys between the given tables, read from pg_constraint (self-references left out). */
export async function foreignKeys(run: Run, tables: TableRef[]): Promise<[parent: string, child: string][]> {
  if (tables.length < 2) return [];
  const rows = await run<{ child: number; parent: number }>(
    `WITH t AS (SELECT i::int AS i, to_regclass(format('%I.%I', s, n)) AS rel FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS u(s, n, i))
     SELECT DISTINCT c.i AS child, p.i AS parent FROM pg_constraint con
       JOIN t c ON c.rel = con.conrelid JOIN t p ON p.rel = con.confrelid
      WHERE con.contype = 'f' AND con.conrelid <> con.confrelid`,
    [tables.map((t) => t.schema), tables.map((t) => t.name)],
  );
  return rows.map((r) => [tables[Number(r.parent) - 1]!.id, tables[Number(r.child) - 1]!.id]);
}

/** Order tables parents first (Kahn's algorithm); report cycles instead of guessing through them. */
export function orderTables(ids: string[], edges: [string, string][]): TableOrder {
  const incoming = new Map(ids.map((id) => [id, 0]));
  const children = new Map<string, string[]>(ids.map((id) => [id, []]));
  for (const [parent, child] of edges) {
    children.get(parent)!.push(child);
    incoming.set(child, incoming.get(child)! + 1);
  }
  const order: string[] = [];
  const ready = ids.filter((id) => incoming.get(id) === 0);
  while (ready.length > 0) {
    const id = ready.shift()!;
    order.push(id);
    for (const child of children.get(id)!) {
      incoming.set(child, incoming.get(child)! - 1);
      if (incoming.get(child) === 0) ready.push(child);
    }
  }
  const left = ids.filter((id) => !order.includes(id));
  const inCycle = left.filter((id) => reaches(id, id, edges));
  return { order: [...order, ...left], cycles: inCycle.length > 0 ? components(inCycle, edges) : [] };
}

function reaches(from: string, to: string, edges: [string, string][]): boolean {
  const seen = new Set<string>();
  const stack = edges.filter(([a]) => a === from).map(([, b]) => b);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (id === to) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    for (const [a, b] of edges) if (a === id) stack.push(b);
  }
  return false;
}

/** Group the tables left in cycles into connected groups (each group holds at least one cycle). */
function components(left: string[], edges: [string, string][]): string[][] {
  const groups: string[][] = [];
  const seen = new Set<string>();
  for (const start of left) {
    if (seen.has(start)) continue;
    const group: string[] = [];
    const stack = [start];
    while (stack.length > 0) {
      const id = stack.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      group.push(id);
      for (const [a, b] of edges) {
        if (a === id && left.includes(b)) stack.push(b);
        if (b === id && left.includes(a)) stack.push(a);
      }
    }
    groups.push(group);
  }
  return groups;
}
