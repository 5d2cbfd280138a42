import { isThreadlineError, ThreadlineError, type ThreadlineErrorCode } from './errors.js';
import { safeText } from './safe-text.js';

/** Deeper than any option Threadline reads (tables → table → mask list): kept by reference below. */
const MAX_DEPTH = 6;

/**
 * An options or input object a caller passed, read once, up front, into fresh plain data: its own
 * enumerable string-keyed properties, and theirs for nested plain objects and arrays. A revoked
 * proxy, a getter or a proxy trap that throws, fails here — as a ThreadlineError (`code`, default
 * QUERY_INVALID) naming `what` — before anything ran, rather than as a TypeError halfway through.
 * Validation then reads the copy only: no getter runs twice, no value changes between its check
 * and its use, and a null prototype reads like any object.
 *
 * Kept by reference, unread: functions (callbacks are the caller's code), class instances (a
 * Date, a pg Pool, a session) and nested objects holding functions (a storage or an archive the
 * caller implements).
 */
export function readInput(
  value: object,
  what: string,
  code: ThreadlineErrorCode = 'QUERY_INVALID',
): Record<string, unknown> {
  return guardRead(what, code, () => copyObject(value, 0, true) as Record<string, unknown>);
}

/**
 * Run `read`, a check that only reads what a caller passed (it calls none of their callbacks and
 * does no I/O): any error but a ThreadlineError — a revoked proxy, a getter or a trap that throws,
 * a bigint where JSON was expected — becomes a ThreadlineError (`code`) naming `what`. readInput's
 * guard; the audit context and ActorRef checks, which run on every request, use it without a copy.
 */
export function guardRead<T>(what: string, code: ThreadlineErrorCode, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (isThreadlineError(error)) throw error;
    throw new ThreadlineError(
      code,
      `${what} could not be read (${reason(error)}); pass a plain object whose values are data properties`,
      { cause: error },
    );
  }
}

/**
 * True for a value an options object can be: an object, not an array, not null. A revoked proxy
 * counts (readInput then reports it), since even asking whether it is an array throws.
 */
export function isObjectInput(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  try {
    return !Array.isArray(value);
  } catch {
    return true;
  }
}

/** True for a real Date (also from another realm); false for a proxy of one, which throws on use. */
export function isDate(value: unknown): value is Date {
  if (typeof value !== 'object' || value === null) return false;
  try {
    Date.prototype.getTime.call(value);
    return true;
  } catch {
    return false;
  }
}

function copy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null || depth > MAX_DEPTH) return value;
  if (Array.isArray(value)) return value.map((item) => copy(item, depth + 1));
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return value;
  return copyObject(value, depth, false);
}

function copyObject(value: object, depth: number, top: boolean): unknown {
  const entries: [string, unknown][] = [];
  for (const key of Object.keys(value)) {
    let item: unknown;
    try {
      item = (value as Record<string, unknown>)[key];
    } catch (error) {
      throw new ReadError(`reading ${JSON.stringify(key.slice(0, 40))} threw: ${reason(error)}`);
    }
    // An object with methods (a storage, an archive) is the caller's implementation: kept whole.
    if (!top && typeof item === 'function') return value;
    entries.push([key, item]);
  }
  // fromEntries defines every key as its own property, "__proto__" too.
  return Object.fromEntries(entries.map(([key, item]) => [key, copy(item, depth + 1)]));
}

/** Why reading failed, for the message: already worded, or the error's own message. */
class ReadError extends Error {}

function reason(error: unknown): string {
  if (error instanceof ReadError) return error.message;
  let message: unknown;
  try {
    message = (error as { message?: unknown } | null)?.message;
  } catch {
    message = undefined;
  }
  return (typeof message === 'string' ? message : safeText(error)).slice(0, 200);
}

/**
 * A list a caller passed (statement parameters), copied: absent stays absent; an array (or a
 * proxy of one) is read element by element; anything else, or a list that cannot be read, is a
 * ThreadlineError QUERY_INVALID naming `what`.
 */
export function readList(value: unknown, what: string): unknown[] | undefined {
  if (value === undefined || value === null) return undefined;
  try {
    if (Array.isArray(value)) return [...value];
  } catch (error) {
    throw new ThreadlineError(
      'QUERY_INVALID',
      `${what} could not be read (${reason(error)}); pass an array`,
      {
        cause: error,
      },
    );
  }
  throw new ThreadlineError('QUERY_INVALID', `${what} must be an array of values, got ${typeof value}`);
}

/**
 * One option read for a telemetry payload before validation (which reports an unreadable or
 * wrong one): undefined when it cannot be read.
 */
export function peekOption(options: unknown, key: string): unknown {
  try {
    return isObjectInput(options) ? (options as Record<string, unknown>)[key] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * An adapter's set-up options (middleware, module, decorator, job wrapper, ORM hook), read once
 * (readInput) when the adapter is set up: absent gives {}; anything but an object, or an object
 * that cannot be read, is a ThreadlineError CONFIG_INVALID naming `where`, so a bad value fails
 * at start-up rather than as a TypeError on the first request.
 */
export function readSetupOptions(value: unknown, where: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (!isObjectInput(value))
    throw new ThreadlineError('CONFIG_INVALID', `${where}: options must be an object`);
  return readInput(value, `${where} options`, 'CONFIG_INVALID');
}
