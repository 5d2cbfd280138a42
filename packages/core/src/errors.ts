/**
 * The one error class Threadline throws. Adapters define no error classes of their own.
 *
 * `code` is a stable string union; `message` says what went wrong and what to do about it.
 */
export const ThreadlineErrorCode = {
  /** An ActorRef value is malformed (bad type, missing id, wrong shape). */
  INVALID_ACTOR: 'INVALID_ACTOR',
  /** An audit context value is malformed (over-long id, wrong type, unknown key). */
  INVALID_CONTEXT: 'INVALID_CONTEXT',
  /** Configuration (createThreadline options, threadline.config, table options) is invalid. */
  CONFIG_INVALID: 'CONFIG_INVALID',
  /** A table cannot be captured as configured (no key, a view, unknown columns, ...). */
  CAPTURE_REFUSED: 'CAPTURE_REFUSED',
  /** A table, schema, transaction or row that was asked for does not exist. */
  NOT_FOUND: 'NOT_FOUND',
  /** A query argument (filter, cursor, key, page size) is invalid. */
  QUERY_INVALID: 'QUERY_INVALID',
  /** Threadline's storage schema is missing or older than this library; run install. */
  NOT_INSTALLED: 'NOT_INSTALLED',
  /** The database could not be reached or rejected the connection. */
  CONNECTION_FAILED: 'CONNECTION_FAILED',
  /** The `db` handed to createThreadline is not a supported client. */
  UNSUPPORTED_CLIENT: 'UNSUPPORTED_CLIENT',
  /** A user-supplied callback (for example an adapter's `actor` resolver) threw. */
  CALLBACK_FAILED: 'CALLBACK_FAILED',
  /** A revert found rows changed since its plan (or since the reverted change); nothing was changed. */
  REVERT_CONFLICT: 'REVERT_CONFLICT',
  /** A revert cannot be applied: values never stored, a key changed since, or a foreign-key cycle. */
  REVERT_REFUSED: 'REVERT_REFUSED',
  /** Work used a transaction's session after the transaction's callback had settled. */
  TRANSACTION_CLOSED: 'TRANSACTION_CLOSED',
  /** BEGIN, COMMIT or ROLLBACK was sent as a statement where that would strand a connection. */
  TRANSACTION_CONTROL: 'TRANSACTION_CONTROL',
  /**
   * A statement was about to run on a connection that is inside a transaction its caller did not
   * open (another caller's): it was refused rather than recorded under the wrong actor.
   */
  FOREIGN_TRANSACTION: 'FOREIGN_TRANSACTION',
  /** A background export job is not finished yet (pending or running) or it failed. */
  EXPORT_NOT_READY: 'EXPORT_NOT_READY',
  /** A background export job expired; its file was deleted. Run the export again. */
  EXPORT_EXPIRED: 'EXPORT_EXPIRED',
  /** The export storage could not write, read or delete a file. */
  EXPORT_STORAGE_FAILED: 'EXPORT_STORAGE_FAILED',
  /** The consumer stopped reading an export before it ended (the stream was destroyed). */
  EXPORT_ABORTED: 'EXPORT_ABORTED',
  /** The database rejected a Threadline statement for another reason. */
  DATABASE_ERROR: 'DATABASE_ERROR',
  /** A purge was asked for but no retention policy is configured, or it is disabled. */
  RETENTION_DISABLED: 'RETENTION_DISABLED',
  /** Another purge run is going; one run at a time per database. */
  RETENTION_RUNNING: 'RETENTION_RUNNING',
  /** retention.archive could not store a batch; the batch was not deleted. */
  RETENTION_ARCHIVE_FAILED: 'RETENTION_ARCHIVE_FAILED',
  /** An operator surface would be served without authorization. */
  UNSAFE_MOUNT: 'UNSAFE_MOUNT',
  /** The caller is not allowed to do this (operator grant, export download by another actor). */
  FORBIDDEN: 'FORBIDDEN',
} as const;

export type ThreadlineErrorCode = (typeof ThreadlineErrorCode)[keyof typeof ThreadlineErrorCode];

const BRAND = Symbol.for('threadline.error');

export class ThreadlineError extends Error {
  override readonly name = 'ThreadlineError';
  readonly code: ThreadlineErrorCode;
  /** Extra machine-readable facts about the failure (never row values). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(
    code: ThreadlineErrorCode,
    message: string,
    options: { cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    Object.defineProperty(this, BRAND, { value: true });
  }
}

/** True for a ThreadlineError, even one thrown by a second copy of this package. */
export function isThreadlineError(value: unknown, code?: ThreadlineErrorCode): value is ThreadlineError {
  if (typeof value !== 'object' || value === null) return false;
  const branded =
    value instanceof ThreadlineError ||
    (value as Record<symbol, unknown>)[BRAND] === true ||
    ((value as Error).name === 'ThreadlineError' && typeof (value as { code?: unknown }).code === 'string');
  return branded && (code === undefined || (value as ThreadlineError).code === code);
}
