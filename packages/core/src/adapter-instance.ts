import { isThreadlineError, ThreadlineError } from './errors.js';
import { readSetupOptions } from './plain-input.js';
import { safeText } from './safe-text.js';

/**
 * The library object an adapter is given to hook (a TypeORM DataSource or QueryRunner, a knex
 * instance or transaction), checked before anything is used or patched: `read` takes what the
 * adapter needs from it and returns that, calling `refuse(reason)` when something is missing.
 * Any refusal — null, a primitive, a proxy or getter that throws, a method that is not a
 * function, a frozen object whose methods cannot be replaced — is a ThreadlineError
 * CONFIG_INVALID `${where}: ${expected} (${reason})`, never a TypeError from deep inside the hook.
 */
export function readInstance<T>(
  value: unknown,
  where: string,
  expected: string,
  read: (value: object, refuse: (reason: string) => never) => T,
): T {
  const refuse = (reason: string, cause?: unknown): never => {
    throw new ThreadlineError(
      'CONFIG_INVALID',
      `${where}: ${expected} (${reason})`,
      cause === undefined ? undefined : { cause },
    );
  };
  if (value === null || (typeof value !== 'object' && typeof value !== 'function'))
    return refuse(`got ${value === null ? 'null' : typeof value}`);
  try {
    return read(value, refuse);
  } catch (error) {
    if (isThreadlineError(error)) throw error;
    return refuse(`reading it threw: ${message(error)}`, error);
  }
}

/** A reason naming the first of `keys` that is not a function on `target` (`name` in the text). */
export function missingMethod(target: object, keys: readonly string[], name: string): string | undefined {
  for (const key of keys) {
    const value = (target as Record<string, unknown>)[key];
    if (typeof value !== 'function') return `${name}.${key} is ${describe(value)}, not a function`;
  }
  return undefined;
}

/**
 * A reason naming the first of `keys` that an assignment `target[key] = ...` would not replace
 * (strict mode: it would throw), or undefined when all can be.
 */
export function unpatchable(
  target: object,
  keys: readonly (string | symbol)[],
  name: string,
): string | undefined {
  for (const key of keys) {
    if (!assignable(target, key))
      return `${name} is frozen or its ${typeof key === 'symbol' ? 'properties' : key} cannot be replaced`;
  }
  return undefined;
}

function assignable(target: object, key: string | symbol): boolean {
  for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o)) {
    const found = Object.getOwnPropertyDescriptor(o, key);
    if (found === undefined) continue;
    // An accessor calls its setter (a getter-only one throws).
    if (!('value' in found)) return found.set !== undefined;
    // An own data property is replaced in place; an inherited one becomes an own property.
    return found.writable === true && (o === target || Object.isExtensible(target));
  }
  return Object.isExtensible(target);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'missing';
  return `a ${typeof value}`;
}

function message(error: unknown): string {
  try {
    const text = (error as { message?: unknown } | null)?.message;
    return (typeof text === 'string' ? text : safeText(error)).slice(0, 200);
  } catch {
    return 'an unreadable error';
  }
}

/**
 * Replaces the given properties, all or none: each `[target, patches]` in order, by Reflect.set. A
 * property a target refuses to take (a proxy whose set trap answers false or throws, which
 * unpatchable cannot see) puts back everything replaced so far and is CONFIG_INVALID
 * `${where}: ${expected} (…)`, so a refused instance is never left half-hooked. Put the
 * "attached" mark last (a symbol key: Reflect.ownKeys lists symbols after strings).
 */
export function applyPatches(
  steps: readonly (readonly [object, Record<string | symbol, unknown>])[],
  where: string,
  expected: string,
): void {
  const undo: (() => boolean)[] = [];
  for (const [target, patches] of steps) {
    for (const key of Reflect.ownKeys(patches)) {
      let cause: unknown;
      let done = false;
      try {
        const own = Object.hasOwn(target, key);
        const previous: unknown = Reflect.get(target, key);
        const set = Reflect.set(target, key, patches[key]);
        if (set)
          undo.push(() => (own ? Reflect.set(target, key, previous) : Reflect.deleteProperty(target, key)));
        // A set that answers true but keeps something else (a proxy's trap) did not replace it.
        done = set && Reflect.get(target, key) === patches[key];
      } catch (error) {
        cause = error;
      }
      if (!done) {
        let restored = true;
        for (const step of undo.reverse()) {
          try {
            restored = step() && restored;
          } catch {
            restored = false;
          }
        }
        const name = typeof key === 'symbol' ? 'its attached mark' : key;
        const left = restored
          ? ''
          : '; what was replaced before it could not all be put back: use a fresh instance';
        throw new ThreadlineError(
          'CONFIG_INVALID',
          `${where}: ${expected} (${name} cannot be replaced${cause === undefined ? '' : `: ${message(cause)}`}${left})`,
          cause === undefined ? undefined : { cause },
        );
      }
    }
  }
}

/**
 * The `threadline` option an ORM adapter is given (`attachThreadline(x, { threadline })`): read
 * once from the options and checked to be the instance from createThreadline, else CONFIG_INVALID.
 */
export function readThreadlineOption<T>(options: unknown, where: string): T {
  const given = (readSetupOptions(options, 'attachThreadline') as { threadline?: unknown }).threadline;
  return readInstance(
    given,
    where,
    'threadline must be the instance from createThreadline({ db })',
    (t, refuse) => {
      const missing = missingMethod(t, ['runInSession', 'runOrmStatement'], 'threadline');
      return missing ? refuse(missing) : (t as T);
    },
  );
}
