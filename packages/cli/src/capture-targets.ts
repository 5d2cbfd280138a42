import { formatTableName, parseTableName, resolveTableOptions, ThreadlineError } from '@threadline/core';
import type { ConfiguredTables } from './config/validate-config.js';

export type CaptureTarget = ConfiguredTables extends Map<string, infer T> ? T : never;

/**
 * The tables to act on with their configured options: the named ones (a table missing from the
 * config gets default options), or every configured table when `names` is undefined.
 */
export function resolveCaptureTargets(
  names: readonly string[] | undefined,
  configured: ConfiguredTables,
): CaptureTarget[] {
  if (names === undefined) return [...configured.values()];
  const targets: CaptureTarget[] = [];
  for (const name of names) {
    const table = parseTableName(name);
    if (targets.some((t) => t.table.schema === table.schema && t.table.name === table.name)) {
      throw new ThreadlineError('CONFIG_INVALID', `--tables lists ${formatTableName(table)} more than once`);
    }
    const known = [...configured.values()].find(
      (t) => t.table.schema === table.schema && t.table.name === table.name,
    );
    targets.push(known ?? { table, options: resolveTableOptions(formatTableName(table), {}) });
  }
  return targets;
}
