/**
 * pgbench's TPC-B-like transaction (its built-in `tpcb-like` script) on pgbench's four tables,
 * one copy per variant in its own schema (the script's unqualified names resolve through
 * search_path, set per variant with PGOPTIONS):
 *   tpcb_plain   - plain: pgbench's script as is; bound: the same plus the context binding;
 *   tpcb_capture - Threadline capture on all four tables, script + binding;
 *   tpcb_floor   - no trigger; script + binding, every statement writes its audit row itself
 *                  (data-modifying CTE into unindexed tables with the audit columns);
 *   tpcb_anchor  - the anchor-style AFTER ROW triggers (anchor.ts) on all four tables, script + binding;
 *   tpcb_invoker - (--compare-invoker) capture as before issue 12 (SECURITY INVOKER), script + binding.
 * pgbench_history gets a primary key (an identity column), as capture needs one.
 */
import { BIND_CONTEXT_SQL } from '@threadline/core';

export type TpcbVariant = 'plain' | 'bound' | 'capture' | 'floor' | 'anchor' | 'invoker';
const TPCB_VARIANTS: TpcbVariant[] = ['plain', 'bound', 'capture', 'floor', 'anchor'];

/** The variants of a run: with --compare-invoker also capture as it was before issue 12. */
export function tpcbVariants(compareInvoker: boolean): TpcbVariant[] {
  return compareInvoker ? [...TPCB_VARIANTS, 'invoker'] : TPCB_VARIANTS;
}

export function tpcbSchema(v: TpcbVariant): string {
  return v === 'bound' ? 'tpcb_plain' : `tpcb_${v}`;
}

/** The schemas that hold tables (bound shares plain's). */
export function tpcbSchemas(compareInvoker: boolean): string[] {
  return [...new Set(tpcbVariants(compareInvoker).map(tpcbSchema))];
}

export const TPCB_TABLES = ['pgbench_accounts', 'pgbench_branches', 'pgbench_tellers', 'pgbench_history'];
export const TPCB_KEYS: Record<string, string> = {
  pgbench_accounts: 'aid',
  pgbench_branches: 'bid',
  pgbench_tellers: 'tid',
  pgbench_history: 'id',
};

/** pgbench -i's tables and rows at `scale` (100,000 accounts, 10 tellers and 1 branch per unit), autovacuum off. */
export function tpcbTablesSql(schema: string, scale: number): string {
  return `
CREATE SCHEMA ${schema};
CREATE TABLE ${schema}.pgbench_branches (bid int NOT NULL PRIMARY KEY, bbalance int, filler char(88)) WITH (autovacuum_enabled = off);
CREATE TABLE ${schema}.pgbench_tellers (tid int NOT NULL PRIMARY KEY, bid int, tbalance int, filler char(84)) WITH (autovacuum_enabled = off);
CREATE TABLE ${schema}.pgbench_accounts (aid int NOT NULL PRIMARY KEY, bid int, abalance int, filler char(84)) WITH (autovacuum_enabled = off);
CREATE TABLE ${schema}.pgbench_history (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tid int, bid int, aid int, delta int, mtime timestamp, filler char(22)) WITH (autovacuum_enabled = off);
INSERT INTO ${schema}.pgbench_branches SELECT g, 0, NULL FROM generate_series(1, ${scale}) g;
INSERT INTO ${schema}.pgbench_tellers SELECT g, (g - 1) / 10 + 1, 0, NULL FROM generate_series(1, ${10 * scale}) g;
INSERT INTO ${schema}.pgbench_accounts SELECT g, (g - 1) / 100000 + 1, 0, '' FROM generate_series(1, ${100_000 * scale}) g;
`;
}

/** Run after loading, outside a transaction. */
export function tpcbVacuumSql(schema: string): string {
  return `VACUUM ANALYZE ${schema}.pgbench_branches, ${schema}.pgbench_tellers, ${schema}.pgbench_accounts, ${schema}.pgbench_history`;
}

/** The floor's audit tables (same columns as bench.floor_*, no index). */
export const TPCB_FLOOR_SQL = `
CREATE TABLE tpcb_floor.floor_changes (LIKE bench.floor_changes INCLUDING ALL) WITH (autovacuum_enabled = off);
CREATE TABLE tpcb_floor.floor_transactions (LIKE bench.floor_transactions INCLUDING ALL) WITH (autovacuum_enabled = off);
`;

export function tpcbCorrelation(v: TpcbVariant): string {
  return `bench-tpcb-${v}`;
}

/** The binding statement tl.transaction sends, with the values inlined (pgbench scripts have no parameters). */
function binding(v: TpcbVariant): string {
  const actor = '{"type":"user","id":"7"}';
  const ctx = JSON.stringify({ correlationId: tpcbCorrelation(v) });
  return `${BIND_CONTEXT_SQL.replace('$1', `'${actor}'`).replace('$2', `'${ctx}'`)};`;
}

function floorChange(table: string, op: 'insert' | 'update', key: string, extra: string): string {
  const cols = op === 'update' ? 'data_after, changed_fields, changed_from' : 'data_after';
  return `INSERT INTO tpcb_floor.floor_changes (transaction_id, table_schema, table_name, op, table_pk, ${cols}, captured_at)
SELECT txid_current(), 'tpcb_floor', '${table}', '${op}', jsonb_build_object('${key}', x.${key}), to_jsonb(x)${extra}, clock_timestamp() FROM x;`;
}

/** The pgbench script of variant `v` at `scale` (pgbench's tpcb-like, plus binding and floor writes). */
export function tpcbScript(v: TpcbVariant, scale: number): string {
  const head = `\\set aid random(1, ${100_000 * scale})
\\set bid random(1, ${scale})
\\set tid random(1, ${10 * scale})
\\set delta random(-5000, 5000)
BEGIN;
`;
  const upd = (table: string, col: string, key: string, keyVar: string) =>
    `UPDATE ${table} SET ${col} = ${col} + :delta WHERE ${key} = :${keyVar}`;
  const history =
    'INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (:tid, :bid, :aid, :delta, CURRENT_TIMESTAMP)';
  if (v !== 'floor') {
    return `${head}${v === 'plain' ? '' : `${binding(v)}\n`}${upd('pgbench_accounts', 'abalance', 'aid', 'aid')};
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
${upd('pgbench_tellers', 'tbalance', 'tid', 'tid')};
${upd('pgbench_branches', 'bbalance', 'bid', 'bid')};
${history};
END;
`;
  }
  const changed = (col: string) => `, '{${col}}'::text[], jsonb_build_object('${col}', x.${col} - :delta)`;
  return `${head}${binding(v)}
WITH t AS (INSERT INTO tpcb_floor.floor_transactions (txid, actor_ref, correlation_id)
  SELECT txid_current(), nullif(current_setting('threadline.actor_ref', true), '')::jsonb,
         nullif(current_setting('threadline.context', true), '')::jsonb ->> 'correlationId' RETURNING txid),
x AS (${upd('pgbench_accounts', 'abalance', 'aid', 'aid')} RETURNING *)
${floorChange('pgbench_accounts', 'update', 'aid', changed('abalance')).replace('SELECT txid_current()', 'SELECT (SELECT txid FROM t)')}
SELECT abalance FROM pgbench_accounts WHERE aid = :aid;
WITH x AS (${upd('pgbench_tellers', 'tbalance', 'tid', 'tid')} RETURNING *)
${floorChange('pgbench_tellers', 'update', 'tid', changed('tbalance'))}
WITH x AS (${upd('pgbench_branches', 'bbalance', 'bid', 'bid')} RETURNING *)
${floorChange('pgbench_branches', 'update', 'bid', changed('bbalance'))}
WITH x AS (${history} RETURNING *)
${floorChange('pgbench_history', 'insert', 'id', '')}
END;
`;
}
