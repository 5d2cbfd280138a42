import { formatTableName, qualifiedTable, quoteIdent, type TableName } from '../capture/identifiers.js';

/** A shell word: as is when it is plain, else in single quotes. */
export function shellWord(text: string): string {
  return /^[A-Za-z0-9_.,/:=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

/** The CLI command that (re)generates capture for `table` from its configuration. */
export function regenerateCommand(table: TableName): string {
  return `threadline gen-triggers --tables ${shellWord(formatTableName(table))} --apply`;
}

export function dropTriggerSql(table: TableName, trigger: string): string {
  return `DROP TRIGGER ${quoteIdent(trigger)} ON ${qualifiedTable(table)};`;
}

export function enableTriggerSql(table: TableName, trigger: string, always: boolean): string {
  return `ALTER TABLE ${qualifiedTable(table)} ENABLE ${always ? 'ALWAYS ' : ''}TRIGGER ${quoteIdent(trigger)};`;
}

/**
 * replica_mode_gap: capture the table on the publisher, add the audit tables to the
 * subscription's publication(s), and refresh the subscription so they replicate here.
 */
export function replicaGapFix(
  table: TableName,
  storage: string,
  subscriptions: readonly { name: string; publications: readonly string[] }[],
): string {
  const audit = ['audit_transactions', 'audit_changes', 'audit_actions']
    .map((t) => qualifiedTable({ schema: storage, name: t }))
    .join(', ');
  const publications = [...new Set(subscriptions.flatMap((s) => s.publications))];
  return [
    `on the publisher: ${regenerateCommand(table)};`,
    ...publications.map((p) => `ALTER PUBLICATION ${quoteIdent(p)} ADD TABLE ${audit};`),
    'then on this database:',
    ...subscriptions.map((s) => `ALTER SUBSCRIPTION ${quoteIdent(s.name)} REFRESH PUBLICATION;`),
  ].join(' ');
}

/** unsafe_cast: drop the cast, or (after reviewing its function) have a superuser own it. */
export function unsafeCastFix(cast: { source: string; function: string }): string {
  return `DROP CAST (${cast.source} AS json); -- or, once you have reviewed ${cast.function}: ALTER FUNCTION ${cast.function} OWNER TO <a superuser>;`;
}

/** Remove a dependency on an extension (so DROP EXTENSION no longer drops capture with it). */
export function noExtensionTriggerSql(table: TableName, trigger: string, extension: string): string {
  return `ALTER TRIGGER ${quoteIdent(trigger)} ON ${qualifiedTable(table)} NO DEPENDS ON EXTENSION ${quoteIdent(extension)};`;
}

export function noExtensionFunctionSql(schema: string, fn: string, extension: string): string {
  return `ALTER FUNCTION ${quoteIdent(schema)}.${quoteIdent(fn)}() NO DEPENDS ON EXTENSION ${quoteIdent(extension)};`;
}
