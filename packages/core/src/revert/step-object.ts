import { parseExactJson } from '../query/exact-json.js';
import { deepFreeze } from './freeze.js';
import type { NetStep } from './net.js';
import type { TableMeta } from './tables.js';
import type { RevertStep } from './types.js';

type Json = Record<string, unknown>;

/** The exact JSON text as a frozen object (numbers JavaScript cannot hold exactly as digit strings). */
const frozen = (text: string): Json => deepFreeze(parseExactJson(text) as Json);

/**
 * What console.log and util.inspect show for a step: its values (the getters read), not `[Getter]`.
 * On the prototype, so it is not an own property (spreading or serializing a step never sees it).
 */
const SHOWN_AS_VALUES = Object.freeze({
  [Symbol.for('nodejs.util.inspect.custom')](
    this: RevertStep,
    _depth: number,
    options: object,
    inspect: (value: unknown, options: object) => string,
  ): string {
    return inspect({ ...this }, options);
  },
});

/**
 * A plan's step, frozen. `pk` and `set` are for display (apply writes the stored JSON texts), so
 * they are parsed when first read: a 10,000-row plan that is applied, not shown, never builds them.
 * They are own enumerable properties (a getter each), so spreading, JSON.stringify and equality
 * checks see them as values.
 */
export function stepObject(
  meta: TableMeta,
  net: NetStep,
  sql: string,
  recordedAs: string | undefined,
): RevertStep {
  let pk: Json | undefined = net.pk ? deepFreeze(net.pk) : undefined;
  const rest = {
    sql,
    params: Object.freeze(
      net.op === 'delete' ? [net.key] : net.op === 'insert' ? [net.data!] : [net.data!, net.key],
    ) as string[],
    data: net.data,
    expect: net.expect,
    key: net.key,
    tableSchema: meta.schema,
    tableName: meta.name,
    relid: meta.relid,
    ...(recordedAs !== undefined ? { recordedAs } : {}),
  };
  if (net.op === 'delete')
    return Object.freeze({
      __proto__: SHOWN_AS_VALUES,
      table: meta.label,
      get pk(): Json {
        pk ??= frozen(net.key);
        return pk;
      },
      op: net.op,
      ...rest,
    });
  let set: Json | undefined = net.set ? deepFreeze(net.set) : undefined;
  return Object.freeze({
    __proto__: SHOWN_AS_VALUES,
    table: meta.label,
    get pk(): Json {
      pk ??= frozen(net.key);
      return pk;
    },
    op: net.op,
    get set(): Json {
      set ??= frozen(net.data!);
      return set;
    },
    ...rest,
  });
}
