/**
 * `String(value)` for an error message about a value a caller passed, which never throws: an
 * object whose toString is not a function (`{ toString: false }`), a Symbol.toPrimitive that
 * throws or a revoked proxy would otherwise turn a clear ThreadlineError into a TypeError.
 */
export function safeText(value: unknown): string {
  try {
    return String(value);
  } catch {
    try {
      return Object.prototype.toString.call(value);
    } catch {
      return '[unprintable value]';
    }
  }
}
