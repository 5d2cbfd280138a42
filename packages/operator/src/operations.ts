import type { IntegrityStatus, Threadline } from '@threadline/core';

/**
 * The operation namespaces of SPEC sections 9-11 that pages use when this version of
 * @threadline/core has them. A page whose namespace is missing says "not available in this
 * version" instead of linking somewhere broken.
 */
export interface CoverageReport {
  checkedAt?: string;
  schemas: {
    schema: string;
    covered: string[];
    uncovered: string[];
    expectedUncovered: { table: string; source: string }[];
  }[];
  findings: Finding[];
  /** Present when the instance reads from a separate readDb: how far behind the primary it was. */
  readReplica?: {
    inRecovery: boolean | null;
    lagBytes: number | null;
    lagSeconds: number | null;
    replayPaused: boolean | null;
  };
}

interface Finding {
  code: string;
  severity: 'error' | 'warning';
  schema: string;
  table: string;
  message: string;
  fix: string;
}

interface PolicyEntry {
  table: string;
  state: string;
  configured?: unknown;
  deployed?: unknown;
  differences?: unknown;
}

interface HealthApi {
  coverage(options?: unknown): Promise<CoverageReport>;
}
interface PolicyApi {
  show(): Promise<PolicyEntry[] | { tables: PolicyEntry[] }>;
}
interface ExportApi {
  count(filters: unknown, options?: unknown): Promise<{ count: number; capped: boolean }>;
  stream(
    filters: unknown,
    options: { format: string },
  ): NodeJS.ReadableStream & AsyncIterable<Uint8Array | string>;
}
interface RetentionApi {
  readonly policy?: {
    enabled: boolean;
    windowSeconds: number;
    batchSize: number;
    deleteEmptyTransactions: boolean;
  };
  runs(options?: { limit?: number }): Promise<unknown[]>;
  purge(options: { dryRun?: boolean }): Promise<unknown>;
}

interface IntegrityApi {
  status(): Promise<IntegrityStatus>;
}

export interface Operations {
  health?: HealthApi;
  policy?: PolicyApi;
  export?: ExportApi;
  retention?: RetentionApi;
  integrity?: IntegrityApi;
}

function has<K extends string>(value: unknown, method: K): boolean {
  return (
    typeof value === 'object' && value !== null && typeof (value as Record<K, unknown>)[method] === 'function'
  );
}

/** The operation namespaces this Threadline instance offers. */
export function operationsOf(tl: Threadline): Operations {
  const t = tl as unknown as Record<string, unknown>;
  return {
    ...(has(t.health, 'coverage') ? { health: t.health as HealthApi } : {}),
    ...(has(t.policy, 'show') ? { policy: t.policy as PolicyApi } : {}),
    ...(has(t.export, 'stream') && has(t.export, 'count') ? { export: t.export as ExportApi } : {}),
    ...(has(t.retention, 'runs') && has(t.retention, 'purge')
      ? { retention: t.retention as RetentionApi }
      : {}),
    ...(has(t.integrity, 'status') ? { integrity: t.integrity as IntegrityApi } : {}),
  };
}
