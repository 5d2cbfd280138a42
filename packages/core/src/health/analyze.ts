import { formatTableName, type TableName } from '../capture/identifiers.js';
import { sequenceCacheFinding } from './audit-sequences.js';
import type { CatalogSnapshot, RegistryInfo, RelationInfo, TriggerInfo } from './catalog.js';
import {
  dropTriggerSql,
  enableTriggerSql,
  noExtensionFunctionSql,
  noExtensionTriggerSql,
  regenerateCommand,
  replicaGapFix,
  unsafeCastFix,
} from './fixes.js';
import type { Finding, FindingCode } from './types.js';
import type { UnsafeCast } from './unsafe-casts.js';

const OPS = [
  ['insert', 4],
  ['update', 16],
  ['delete', 8],
  ['truncate', 32],
] as const;
/** How each generated capture trigger is defined: AFTER ... FOR EACH STATEMENT, its transition tables. */
const EXPECTED: Record<string, { type: number; transitions: string }> = {
  threadline_capture_insert: { type: 4, transitions: ',threadline_new_rows' },
  threadline_capture_update: { type: 16, transitions: 'threadline_old_rows,threadline_new_rows' },
  threadline_capture_delete: { type: 8, transitions: 'threadline_old_rows,' },
  threadline_capture_truncate: { type: 32, transitions: ',' },
};
const CANONICAL = new Set(OPS.map(([op]) => `threadline_capture_${op}`));
/** The BEFORE STATEMENT trigger every captured table has: it notes when a statement started. */
const STATEMENT_START = 'capture_statement_start';
const FIRES = new Set(['O', 'A']);

export interface Analysis {
  findings: Finding[];
  /** oid of each non-partition table -> covered (every partition included). */
  covered: Map<string, boolean>;
}

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\u0000') === [...b].sort().join('\u0000');

const sameColumns = (a: Record<string, string>, b: Record<string, string>) =>
  JSON.stringify(Object.entries(a).sort()) === JSON.stringify(Object.entries(b).sort());

/** Turn a catalog snapshot into findings and a covered flag per table. Pure. */
export function analyzeCapture(snapshot: CatalogSnapshot, storage: string): Analysis {
  const registry = new Map(snapshot.registry.map((r) => [r.relid, r]));
  const byFunction = new Map(snapshot.registry.map((r) => [r.functionName, r]));
  const castsOf = new Map<string, UnsafeCast[]>();
  for (const u of snapshot.unsafeCasts ?? []) castsOf.set(u.relid, [...(castsOf.get(u.relid) ?? []), u]);
  const triggersOf = new Map<string, TriggerInfo[]>();
  for (const t of snapshot.triggers) {
    const list = triggersOf.get(t.relid) ?? [];
    list.push(t);
    triggersOf.set(t.relid, list);
  }
  const findings: Finding[] = [];
  const relationOk = new Map<string, boolean>();
  for (const rel of snapshot.relations) {
    const reg = registry.get(rel.isPartition && rel.root ? rel.root : rel.oid);
    const triggers = triggersOf.get(rel.oid) ?? [];
    const add = (code: FindingCode, severity: Finding['severity'], message: string, fix: string) =>
      findings.push({ code, severity, schema: rel.schema, table: rel.name, message, fix });
    relationOk.set(
      rel.oid,
      reg
        ? checkRegistered(rel, reg, triggers, storage, byFunction, add, castsOf.get(rel.oid) ?? [])
        : checkUnregistered(rel, triggers, storage, byFunction, add),
    );
  }
  const covered = new Map<string, boolean>();
  for (const rel of snapshot.relations) {
    if (rel.isPartition) continue;
    covered.set(rel.oid, registry.has(rel.oid) && relationOk.get(rel.oid) === true);
  }
  for (const rel of snapshot.relations) {
    if (rel.isPartition && rel.root && covered.has(rel.root) && relationOk.get(rel.oid) !== true)
      covered.set(rel.root, false);
  }
  for (const s of snapshot.cachedSequences ?? []) findings.push(sequenceCacheFinding(storage, s));
  findings.sort(
    (a, b) =>
      cmp(a.schema, b.schema) || cmp(a.table, b.table) || cmp(a.code, b.code) || cmp(a.message, b.message),
  );
  return { findings, covered };
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

type Add = (code: FindingCode, severity: Finding['severity'], message: string, fix: string) => void;

function describeOwner(reg: RegistryInfo | undefined): string {
  return reg ? `the capture function of ${formatTableName(reg)}` : 'a function that is not registered to it';
}

/** A captured table (or a partition of one): returns whether capture is complete here. */
function checkRegistered(
  rel: RelationInfo,
  reg: RegistryInfo,
  triggers: TriggerInfo[],
  storage: string,
  byFunction: Map<string, RegistryInfo>,
  add: Add,
  unsafeCasts: readonly UnsafeCast[],
): boolean {
  const table: TableName = { schema: rel.schema, name: rel.name };
  const label = formatTableName(table);
  const root: TableName = { schema: reg.schema, name: reg.name };
  const regen = regenerateCommand(root);
  const own = (t: TriggerInfo) => t.functionSchema === storage && t.functionName === reg.functionName;
  const helper = (t: TriggerInfo) => t.functionSchema === storage && t.functionName === STATEMENT_START;
  const mine = triggers.filter(own);
  const foreign = triggers.filter((t) => !own(t) && !helper(t));
  let ok = true;
  if (!triggers.some((t) => helper(t) && FIRES.has(t.enabled))) {
    add(
      'capture_trigger_missing',
      'warning',
      `${label} has no enabled statement-start trigger (threadline_capture_before); its changes are recorded, but their captured_at may not follow statement order`,
      regen,
    );
  }

  const missing = OPS.filter(([, bit]) => !mine.some((t) => t.type & bit)).map(([op]) => op);
  if (missing.length > 0) {
    ok = false;
    add(
      'capture_trigger_missing',
      'error',
      `${label} has no capture trigger for ${missing.join(', ')}; those changes are not recorded`,
      regen,
    );
  }
  const duplicated = OPS.filter(([, bit]) => mine.filter((t) => t.type & bit).length > 1).map(([op]) => op);
  if (duplicated.length > 0) {
    const extra = mine.filter((t) => !CANONICAL.has(t.name));
    add(
      'duplicate_capture_trigger',
      'error',
      `${label} has more than one capture trigger for ${duplicated.join(', ')} (${mine.map((t) => t.name).join(', ')}); each change would be recorded twice`,
      extra.length > 0 ? extra.map((t) => dropTriggerSql(table, t.name)).join(' ') : regen,
    );
  }
  // Present, enabled and calling the right function, but not firing as generated: a WHEN
  // condition, another timing or level, or other transition tables (hand-edited).
  const altered = mine.filter((t) => {
    const want = EXPECTED[t.name];
    if (!want) return false;
    return (
      t.conditional === true ||
      t.type !== want.type ||
      (t.transitions !== undefined && t.transitions !== want.transitions)
    );
  });
  if (altered.length > 0) {
    ok = false;
    add(
      'capture_trigger_altered',
      'error',
      `${label}: capture trigger(s) ${altered.map((t) => t.name).join(', ')} were changed by hand (a WHEN condition, another timing or level, or other transition tables); changes may not be recorded`,
      regen,
    );
  }
  if (!rel.isPartition && reg.functionIntact === false) {
    ok = false;
    add(
      'capture_function_altered',
      'error',
      `${label}: its capture function ${storage}.${reg.functionName} is not the one Threadline generated (edited by hand, or generated before this check existed); changes may not be recorded as configured`,
      regen,
    );
  }
  const off = mine.filter((t) => !FIRES.has(t.enabled));
  if (off.length > 0) {
    ok = false;
    add(
      'capture_trigger_disabled',
      'error',
      `${label}: capture trigger(s) ${off.map((t) => `${t.name}${t.enabled === 'R' ? ' (replica only)' : ''}`).join(', ')} disabled; changes are not recorded`,
      off.map((t) => enableTriggerSql(table, t.name, t.enabled === 'R')).join(' '),
    );
  }
  if (foreign.length > 0) {
    ok = false;
    const canonical = foreign.filter((t) => CANONICAL.has(t.name));
    const other = foreign.filter((t) => !CANONICAL.has(t.name));
    add(
      'foreign_capture_function',
      'error',
      `${label}: trigger(s) ${foreign
        .map(
          (t) =>
            `${t.name} calls ${t.functionSchema}.${t.functionName} (${describeOwner(byFunction.get(t.functionName))})`,
        )
        .join('; ')} instead of its own capture function ${storage}.${reg.functionName}`,
      [...other.map((t) => dropTriggerSql(table, t.name)), ...(canonical.length > 0 ? [regen] : [])].join(
        ' ',
      ),
    );
  }
  checkExtensionDependencies(rel, reg, [...mine, ...triggers.filter(helper)], storage, add);
  // The apply worker of a subscription fires row triggers only (PostgreSQL runs neither AFTER
  // STATEMENT triggers nor their transition tables for replicated INSERT, UPDATE and DELETE,
  // whatever ENABLE ALWAYS/REPLICA says), so no trigger state captures those writes here: their
  // history has to come from the publisher with the rows.
  if (!rel.isPartition && rel.subscriptions.length > 0) {
    const names = rel.subscriptions.map((s) => s.name);
    add(
      'replica_mode_gap',
      'warning',
      `${label} is written by logical-replication subscription(s) ${names.join(', ')}, whose writes its capture triggers do not record (the apply worker fires no statement-level trigger for replicated inserts, updates and deletes, whatever the trigger's ENABLE state); capture it on the publisher and replicate the audit tables with it`,
      replicaGapFix(table, storage, rel.subscriptions),
    );
  }
  for (const u of unsafeCasts)
    add(
      'unsafe_cast',
      'error',
      `capture of ${label} would run another role's code with the rights of Threadline's owner: the cast from ${u.source} to json runs ${u.function}, owned by ${u.functionOwner} (capture converts every value to JSON)`,
      unsafeCastFix(u),
    );
  if (!rel.isPartition) {
    const expectedKey = reg.options.primaryKey ?? rel.primaryKey ?? [];
    if (!sameSet(expectedKey, reg.keyColumns)) {
      add(
        'key_drift',
        'error',
        `${label}: capture records the key (${reg.keyColumns.join(', ') || 'none'}) but the table's ${reg.options.primaryKey ? 'primaryKey option' : 'primary key'} is now (${expectedKey.join(', ') || 'none'}); history by key would miss rows`,
        regen,
      );
    } else if (rel.columns && !sameColumns(rel.columns, reg.columns)) {
      add(
        'stale_capture_function',
        'warning',
        `${label}: its columns changed since its capture function was generated (${reg.mode} mode); change detection may miss new or renamed columns`,
        regen,
      );
    }
  }
  return ok;
}

/**
 * A capture trigger or capture function that depends on an extension (ALTER ... DEPENDS ON
 * EXTENSION, by hand or before DDL sync refused it): `DROP EXTENSION` drops the trigger silently,
 * and with CASCADE the function and every trigger calling it. Capture works until then, so the
 * table stays covered; the finding is an error because nothing would record that capture stopped.
 */
function checkExtensionDependencies(
  rel: RelationInfo,
  reg: RegistryInfo,
  triggers: TriggerInfo[],
  storage: string,
  add: Add,
): void {
  const table: TableName = { schema: rel.schema, name: rel.name };
  const found: { what: string; extension: string; fix: string }[] = [];
  for (const t of triggers)
    for (const ext of t.extensions ?? [])
      found.push({
        what: `trigger ${t.name}`,
        extension: ext,
        fix: noExtensionTriggerSql(table, t.name, ext),
      });
  if (!rel.isPartition)
    for (const ext of reg.functionExtensions ?? [])
      found.push({
        what: `function ${storage}.${reg.functionName}`,
        extension: ext,
        fix: noExtensionFunctionSql(storage, reg.functionName, ext),
      });
  if (found.length === 0) return;
  add(
    'extension_dependency',
    'error',
    `${formatTableName(table)}: capture ${found.map((f) => `${f.what} depends on extension ${f.extension}`).join('; ')}; DROP EXTENSION would drop capture with it and nothing would record that capture stopped`,
    found.map((f) => f.fix).join(' '),
  );
}

/** A table Threadline does not capture: any capture trigger on it is a finding. */
function checkUnregistered(
  rel: RelationInfo,
  triggers: TriggerInfo[],
  storage: string,
  byFunction: Map<string, RegistryInfo>,
  add: Add,
): boolean {
  const table: TableName = { schema: rel.schema, name: rel.name };
  const label = formatTableName(table);
  const ours = triggers.filter((t) => t.functionSchema === storage && t.functionName.startsWith('capture_'));
  const borrowed = ours.filter((t) => byFunction.has(t.functionName));
  const orphan = triggers.filter((t) => !borrowed.includes(t));
  if (borrowed.length > 0)
    add(
      'foreign_capture_function',
      'error',
      `${label} is not captured, but trigger(s) ${borrowed
        .map((t) => `${t.name} call(s) ${describeOwner(byFunction.get(t.functionName))}`)
        .join('; ')}, so its changes are recorded as another table's`,
      `${borrowed.map((t) => dropTriggerSql(table, t.name)).join(' ')} -- then, to capture it: ${regenerateCommand(table)}`,
    );
  if (orphan.length > 0)
    add(
      'unregistered_capture',
      'error',
      `${label} has Threadline trigger(s) ${orphan.map((t) => `${t.name} (calls ${t.functionSchema}.${t.functionName})`).join(', ')} but no entry in ${storage}.captured_tables`,
      `${orphan.map((t) => dropTriggerSql(table, t.name)).join(' ')} -- then, to capture it: ${regenerateCommand(table)}`,
    );
  return false;
}
