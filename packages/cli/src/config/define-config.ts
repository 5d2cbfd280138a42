import type { RetentionPolicy, StorageConfig, TableCaptureOptions } from '@threadline/core';

/** `threadline.config.{ts,mjs,js,json}`: the same keys in every format. */
export interface ThreadlineConfig {
  /** Storage schema for Threadline's tables and functions. Default `threadline`. */
  schema?: string;
  /** Audited tables keyed by `name` or `schema.name` (exact, case-sensitive), with capture options. */
  tables?: Record<string, TableCaptureOptions>;
  /** Coverage checks (`threadline health coverage`). */
  health?: HealthConfig;
  /** The CI gate (`threadline verify-coverage`). */
  verifyCoverage?: VerifyCoverageConfig;
  /** Purging old audit rows (`threadline retention purge`). */
  retention?: RetentionConfig;
  /** The audit_changes layout: `{ partition: 'none' | 'day' | 'week' | 'month' }` (default month). */
  storage?: StorageConfig;
}

export interface HealthConfig {
  /** Tables that are known and accepted to have no capture. */
  expectedUncoveredTables?: string[];
  /** Tables to report as uncovered even if they would otherwise be skipped. */
  auditAnyway?: string[];
}

export interface VerifyCoverageConfig {
  /** Tables that must have capture installed. */
  expectedTables: string[];
}

/** The retention policy: exactly one window (keepDays or maxAgeSeconds); see @threadline/core. */
export type RetentionConfig = RetentionPolicy;

/** Identity function that gives a TypeScript config file its types. */
export function defineConfig(config: ThreadlineConfig): ThreadlineConfig {
  return config;
}
