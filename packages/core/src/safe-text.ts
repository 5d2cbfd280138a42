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

/**
 * A value a caller passed, as a short JSON-like text for an error message, which never throws:
 * `"5"`, `true`, `10n` (a bigint), `Symbol(x)`, `function`, `[object Object]`.
 */
export function describeValue(value: unknown, max = 40): string {
  if (typeof value === 'bigint') return `${value}n`.slice(0, max);
  if (typeof value === 'symbol') return safeText(value).slice(0, max);
  if (typeof value === 'function' || value === undefined) return typeof value;
  try {
    return (JSON.stringify(value) ?? safeText(value)).slice(0, max);
  } catch {
    return safeText(value).slice(0, max);
  }
}
