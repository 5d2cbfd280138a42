/**
 * Freeze a plan and everything in it (10,000 steps: no array per object, no call per primitive).
 * An object already frozen is taken as frozen all the way down: steps are frozen when made, and
 * their parsed `pk` / `set` when first read (step-object.ts).
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  const object = value as Record<string, unknown>;
  for (const key in object) {
    const v = object[key];
    if (typeof v === 'object' && v !== null) deepFreeze(v);
  }
  return Object.freeze(value);
}
