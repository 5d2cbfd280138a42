/**
 * The one rule for which statements carry the audit context when they are sent outside a
 * transaction (tl.query and the ORM adapters use it alike).
 *
 * A statement is bound unless it is provably read-only. "Provably" is narrow on purpose: a SELECT
 * can call a function that writes (`select archive_post($1)`), so can `call`, `DO`, `EXPLAIN
 * ANALYZE`, a view or an operator. What is left are single statements that cannot change a row
 * whatever they name: SHOW, SET/RESET, DISCARD, DEALLOCATE, LISTEN/UNLISTEN and EXPLAIN without
 * ANALYZE. Binding a read costs one more statement in the same round trip (bench:binding,
 * docs/context.md "Which statements are attributed").
 */

/** Whitespace, comments and semicolons only: what may follow the last statement. */
const TRAILER = /^(?:\s+|;|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*$/;
const READ_ONLY_COMMANDS = /^(?:show|set|reset|discard|deallocate|listen|unlisten)\b/i;

export type TransactionControl = 'begin' | 'end' | 'savepoint';

/** The statement after leading whitespace and comments; block comments nest, as in PostgreSQL. */
function stripLeadingComments(sql: string): string {
  let i = 0;
  for (;;) {
    while (i < sql.length && /\s/.test(sql[i]!)) i++;
    if (sql.startsWith('--', i)) {
      const nl = sql.indexOf('\n', i);
      if (nl === -1) return '';
      i = nl + 1;
    } else if (sql.startsWith('/*', i)) {
      let depth = 1;
      i += 2;
      while (i < sql.length && depth > 0) {
        if (sql.startsWith('/*', i)) {
          depth++;
          i += 2;
        } else if (sql.startsWith('*/', i)) {
          depth--;
          i += 2;
        } else i++;
      }
    } else return sql.slice(i);
  }
}

/** True when `sql` holds one statement (a `;` anywhere but at the end counts as several). */
function isSingleStatement(text: string): boolean {
  const semi = text.indexOf(';');
  return semi === -1 || TRAILER.test(text.slice(semi));
}

/**
 * What a statement does to the transaction: `begin` (BEGIN, START TRANSACTION), `end` (COMMIT,
 * END, ROLLBACK, ABORT and the prepared-transaction commands), `savepoint` (SAVEPOINT, RELEASE,
 * ROLLBACK TO) or null.
 */
export function transactionControl(sql: string): TransactionControl | null {
  const text = stripLeadingComments(sql);
  if (/^(?:begin|start\s+transaction)\b/i.test(text)) return 'begin';
  if (/^(?:savepoint|release)\b/i.test(text) || /^rollback\s+(?:(?:work|transaction)\s+)?to\b/i.test(text))
    return 'savepoint';
  if (/^(?:commit|end|rollback|abort|prepare\s+transaction)\b/i.test(text)) return 'end';
  return null;
}

/** True when `sql` is one statement that cannot change a row (see the file comment). */
export function isProvablyReadOnly(sql: string): boolean {
  const text = stripLeadingComments(sql);
  if (!isSingleStatement(text)) return false;
  if (READ_ONLY_COMMANDS.test(text)) return true;
  // EXPLAIN without ANALYZE, spelled plainly: a quoted or U& option name could be ANALYZE.
  return /^explain\b/i.test(text) && !/\banaly[sz]e\b/i.test(text) && !/["&]|\/\*/.test(text);
}

/**
 * True when a statement sent outside a transaction must carry the audit context: everything but
 * transaction control and provably read-only statements.
 */
export function needsAttribution(sql: string): boolean {
  return transactionControl(sql) === null && !isProvablyReadOnly(sql);
}

/** PostgreSQL's answer when a statement cannot share the implicit transaction of a pipeline. */
export function cannotBeWrapped(error: unknown): 'multi-statement' | 'no-transaction-block' | null {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e?.code === '25001') return 'no-transaction-block';
  if (e?.code === '42601' && /cannot insert multiple commands/i.test(String(e.message)))
    return 'multi-statement';
  return null;
}
