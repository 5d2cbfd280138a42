/**
 * Hostile stand-ins for an options object a caller passes: what must end in a ThreadlineError
 * naming the entry point, never a raw TypeError. `key` is an option the entry point knows (a
 * getter or a proxy trap on it throws; the has-trap proxy holds a bad value there).
 */
export const HOSTILE_OBJECTS: readonly [kind: string, make: (key: string) => unknown][] = [
  ['a revoked proxy', () => revoked({})],
  ['a revoked proxy of a function', () => revoked(() => undefined)],
  ['a getter that throws', (key) => Object.defineProperty({}, key, { get: boom, enumerable: true })],
  ['a proxy whose ownKeys trap throws', () => new Proxy({}, { ownKeys: boom })],
  [
    'a proxy whose getOwnPropertyDescriptor trap throws',
    (key) => new Proxy({ [key]: 1 }, { getOwnPropertyDescriptor: boom }),
  ],
  ['a proxy whose get trap throws', (key) => new Proxy({ [key]: 1 }, { get: boom })],
  // The has trap is never needed to read the data: the bad value behind it is what is reported.
  ['a proxy whose has trap throws', (key) => new Proxy({ [key]: Symbol('bad') }, { has: boom })],
  [
    'a null-prototype object holding a null-prototype object',
    (key) => Object.assign(Object.create(null), { [key]: Object.create(null) }),
  ],
  ['an array', () => [1, 2]],
  ['a function', () => () => undefined],
  ['a symbol', () => Symbol('options')],
  ['a bigint', () => 10n],
];

/** Hostile values for one known key of an options object. */
export const HOSTILE_VALUES: readonly [kind: string, make: () => unknown][] = [
  ['a symbol', () => Symbol('value')],
  ['a bigint', () => 12345678901234567890n],
  ['a revoked proxy', () => revoked({})],
  ['a null-prototype object', () => Object.create(null)],
  ['a proxy whose get trap throws', () => new Proxy({}, { get: boom })],
];

function boom(): never {
  throw new Error('boom');
}

function revoked(target: object): object {
  const { proxy, revoke } = Proxy.revocable(target, {});
  revoke();
  return proxy;
}

/**
 * How a call ended, as "CODE: message" for a ThreadlineError (thrown or rejected), "no error",
 * or "not a ThreadlineError: ..." for anything else; a schedule it started is stopped.
 */
export async function outcome(call: () => unknown): Promise<string> {
  try {
    const result = await call();
    await (result as { stop?: () => Promise<void> } | undefined)?.stop?.();
  } catch (error) {
    const e = error as { name?: unknown; code?: unknown; message?: unknown } | null;
    return e?.name === 'ThreadlineError'
      ? `${String(e.code)}: ${String(e.message)}`
      : `not a ThreadlineError: ${printable(error)}`;
  }
  return 'no error';
}

function printable(value: unknown): string {
  try {
    return String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
