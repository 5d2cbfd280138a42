import { isThreadlineError, ThreadlineError } from '../errors.js';
import { isConnectionError } from './sql-client.js';

interface PgErrorLike {
  code?: string;
  message?: string;
  hint?: string;
  detail?: string;
}

/** Map a driver or database error from a Threadline statement to a ThreadlineError. */
export function toThreadlineError(error: unknown, what: string): ThreadlineError {
  if (isThreadlineError(error)) return error;
  const e = (error ?? {}) as PgErrorLike;
  const message = e.message ?? String(error);
  const withHint = e.hint ? `${message}. ${e.hint}` : message;
  switch (e.code) {
    case 'TLNF1':
      return new ThreadlineError('NOT_FOUND', withHint, { cause: error });
    case 'TLRF1':
      return new ThreadlineError('CAPTURE_REFUSED', withHint, { cause: error });
    case 'TLCF1':
      return new ThreadlineError('CONFIG_INVALID', withHint, { cause: error });
    case 'TLQ01':
      return new ThreadlineError('QUERY_INVALID', withHint, { cause: error });
    case '3F000':
    case '42P01':
    case '42883':
      if (
        /threadline|audit_|captured_tables|schema_version|enable_capture|current_transaction_id|record_action/.test(
          message,
        )
      ) {
        return new ThreadlineError(
          'NOT_INSTALLED',
          `${what}: Threadline's storage schema is missing or out of date (${message}); run tl.install() or \`threadline install --apply\` first`,
          { cause: error },
        );
      }
      break;
  }
  if (isConnectionError(error)) {
    return new ThreadlineError(
      'CONNECTION_FAILED',
      `${what}: could not use the database connection: ${connectionHint(e)}`,
      { cause: error },
    );
  }
  return new ThreadlineError('DATABASE_ERROR', `${what}: ${withHint}`, {
    cause: error,
    details: e.code ? { sqlstate: e.code } : undefined,
  });
}

function connectionHint(e: PgErrorLike): string {
  switch (e.code) {
    case 'ECONNREFUSED':
      return `${e.message}. Is PostgreSQL running, and are host and port in the URL right?`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${e.message}. The host name in the URL does not resolve.`;
    case '28P01':
    case '28000':
      return `${e.message}. Check the user and password in the URL.`;
    case '3D000':
      return `${e.message}. Create the database or fix its name in the URL.`;
    default:
      return e.message ?? 'unknown connection error';
  }
}
