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

import { ThreadlineError } from '../errors.js';
import { lexStatements } from './sql-statements.js';

const READ_ONLY_COMMANDS = /^(?:show|set|reset|discard|deallocate|listen|unlisten)\b/i;

export type TransactionControl = 'begin' | 'end' | 'savepoint';

/**
 * The code of `sql` (comments replaced by spaces, by the lexer of sql-statements.ts) when it holds
 * exactly one statement; '' when it holds none; null when it holds several. Never a raw indexOf or
 * regex on the text: a comment may hold a `;` or sit between keywords (`commit /* ; *\/`).
 */
function soleStatement(sql: string): string | null {
  const statements = lexStatements(sql);
  if (statements.length > 1) return null;
  return statements[0]?.code ?? '';
}

/** What one statement's code (no comments) does to the transaction; see transactionControl. */
function controlOf(code: string): TransactionControl | null {
  if (/^(?:begin|start\s+transaction)\b/i.test(code)) return 'begin';
  if (/^(?:savepoint|release)\b/i.test(code) || /^rollback\s+(?:(?:work|transaction)\s+)?to\b/i.test(code))
    return 'savepoint';
  if (/^(?:commit|end|rollback|abort|prepare\s+transaction)\b/i.test(code)) return 'end';
  return null;
}

/**
 * What one statement does to the transaction: `begin` (BEGIN, START TRANSACTION), `end` (COMMIT,
 * END, ROLLBACK, ABORT and the prepared-transaction commands), `savepoint` (SAVEPOINT, RELEASE,
 * ROLLBACK TO) or null (including for a string of several statements).
 */
export function transactionControl(sql: string): TransactionControl | null {
  // A script that starts with BEGIN is a script (scriptTransactionControl), not a BEGIN.
  const code = soleStatement(sql);
  return code === null ? null : controlOf(code);
}

/** True when `sql` is one statement that cannot change a row (see the file comment). */
export function isProvablyReadOnly(sql: string): boolean {
  const code = soleStatement(sql);
  if (code === null) return false;
  if (READ_ONLY_COMMANDS.test(code)) return true;
  // EXPLAIN without ANALYZE, spelled plainly: a quoted or U& option name could be ANALYZE.
  return /^explain\b/i.test(code) && !/\banaly[sz]e\b/i.test(code) && !/["&]/.test(code);
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

/** Whether `sql` is a script of several statements (the lexer's split, never a raw `;` count). */
export function isScript(sql: string): boolean {
  return sql.includes(';') && lexStatements(sql).length > 1;
}

/**
 * What the transaction-control statements inside a script of several statements do to the
 * connection: `none` (there are none, or `sql` is one statement: see transactionControl), `closed`
 * (the last of them is COMMIT/ROLLBACK: the connection ends outside a transaction) or `open` (the
 * last is BEGIN: the script would leave the connection mid-transaction).
 */
export function scriptTransactionControl(sql: string): 'none' | 'closed' | 'open' {
  const statements = lexStatements(sql);
  if (statements.length < 2) return 'none';
  let last: 'none' | 'closed' | 'open' = 'none';
  for (const statement of statements) {
    const control = controlOf(statement.code);
    if (control === 'begin') last = 'open';
    else if (control === 'end') last = 'closed';
  }
  return last;
}

/**
 * True when `sql` runs a procedure or a DO block (alone or in a script): either may COMMIT inside,
 * which ends the transaction that carries the binding, so it runs in an explicit transaction
 * block where PostgreSQL refuses such a COMMIT (see embeddedCommitRefused).
 */
export function mayCommitInside(sql: string): boolean {
  return lexStatements(sql).some((s) => /^(?:call|do)\b/i.test(s.code));
}

/**
 * PostgreSQL's "invalid transaction termination" (2D000) for a statement Threadline ran in an
 * explicit transaction to attribute it, as a ThreadlineError naming the fixes; other errors as
 * they are.
 */
export function embeddedCommitRefused(error: unknown, where: string): unknown {
  if ((error as { code?: unknown } | null)?.code !== '2D000') return error;
  return new ThreadlineError(
    'TRANSACTION_CONTROL',
    `${where}: the procedure or DO block commits or rolls back inside, so the audit context bound to its transaction would be gone for every write after that COMMIT (nothing was written: it ran in a transaction block and was rolled back). Move the COMMITs out of the procedure and call it once per batch inside tl.transaction (or your ORM's transaction), or call it with no audit context (runWithFreshAuditContext({}, ...)) if its writes may be recorded with no actor`,
    { cause: error },
  );
}

/** The refusal of a script that contains BEGIN/COMMIT/ROLLBACK while a context is active. */
export function scriptControlRefused(where: string, bound: boolean): ThreadlineError {
  return new ThreadlineError(
    'TRANSACTION_CONTROL',
    bound
      ? `${where}: a script that contains BEGIN, COMMIT or ROLLBACK cannot carry the audit context (it is bound to one transaction; the script's own COMMIT would end it and the writes after it would have no actor). Drop the BEGIN/COMMIT: a script sent outside a transaction already runs as one attributed transaction; or use tl.transaction / your ORM's transaction API`
      : `${where}: this script ends inside a transaction it opened (its last transaction statement is BEGIN), which would give the connection back mid-transaction; end it with COMMIT or use tl.transaction / your ORM's transaction API`,
  );
}
