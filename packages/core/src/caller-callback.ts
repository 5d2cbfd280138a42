/**
 * Callbacks the caller passes (onTable, onProgress) are the caller's code: what they throw reaches
 * the caller unchanged, after the transaction they interrupted rolled back, rather than mapped to
 * a ThreadlineError (DATABASE_ERROR) as a driver error would be. It travels through Threadline's
 * error handling in a carrier that only rethrowCallerError opens.
 */
class CallerError {
  constructor(readonly error: unknown) {}
}

/** `fn` as Threadline calls it: whatever it throws is carried out unchanged (rethrowCallerError). */
export function callerCallback<A extends unknown[]>(
  fn: ((...args: A) => unknown) | undefined,
): ((...args: A) => void) | undefined {
  if (fn === undefined) return undefined;
  return (...args) => {
    try {
      fn(...args);
    } catch (error) {
      throw new CallerError(error);
    }
  };
}

/** In an entry point's catch, before mapping `error`: a caller's callback's error is rethrown as it was. */
export function rethrowCallerError(error: unknown): void {
  if (error instanceof CallerError) throw error.error;
}

/** The error a caller's callback threw, when `error` carries one (to record it before rethrowing). */
export function callerErrorOf(error: unknown): { error: unknown } | undefined {
  return error instanceof CallerError ? { error: error.error } : undefined;
}
