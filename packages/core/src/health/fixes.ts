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

/** Remove a dependency on an extension (so DROP EXTENSION no longer drops capture with it). */
export function noExtensionTriggerSql(table: TableName, trigger: string, extension: string): string {
  return `ALTER TRIGGER ${quoteIdent(trigger)} ON ${qualifiedTable(table)} NO DEPENDS ON EXTENSION ${quoteIdent(extension)};`;
}

export function noExtensionFunctionSql(schema: string, fn: string, extension: string): string {
  return `ALTER FUNCTION ${quoteIdent(schema)}.${quoteIdent(fn)}() NO DEPENDS ON EXTENSION ${quoteIdent(extension)};`;
}
