import { parseExactJson } from '../query/exact-json.js';
import type { NetStep } from './net.js';
import type { TableMeta } from './tables.js';
import type { RevertStep } from './types.js';

type Json = Record<string, unknown>;

/**
 * A plan's step, a plain object (index.ts freezes the plan, steps included). `pk` and `set` are
 * parsed here, for display: a step with getters parsing them on first read measured no faster for
 * 10,000 steps (an object literal with accessors or a prototype is several times slower to make
 * than a plain one, which ate the parse it saved) and showed `[Getter]` in console.log.
 */
export function stepObject(
  meta: TableMeta,
  net: NetStep,
  sql: string,
  recordedAs: string | undefined,
): RevertStep {
  const pk = net.pk ?? (parseExactJson(net.key) as Json);
  const step: RevertStep =
    net.op === 'delete'
      ? {
          table: meta.label,
          pk,
          op: net.op,
          sql,
          params: [net.key],
          data: net.data,
          expect: net.expect,
          key: net.key,
          tableSchema: meta.schema,
          tableName: meta.name,
          relid: meta.relid,
        }
      : {
          table: meta.label,
          pk,
          op: net.op,
          set: net.set ?? (parseExactJson(net.data!) as Json),
          sql,
          params: net.op === 'insert' ? [net.data!] : [net.data!, net.key],
          data: net.data,
          expect: net.expect,
          key: net.key,
          tableSchema: meta.schema,
          tableName: meta.name,
          relid: meta.relid,
        };
  if (recordedAs !== undefined) step.recordedAs = recordedAs;
  return step;
}
