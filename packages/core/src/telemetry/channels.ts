/**
 * Telemetry channel names. Core publishes on `node:diagnostics_channel`; names follow
 * `threadline:<area>:<event>`. Work with a duration also publishes on a tracing channel
 * (`tracing:<name>:start|end|asyncStart|asyncEnd|error`), see TELEMETRY_TRACING_CHANNELS.
 *
 * Payloads carry counts, durations (milliseconds), codes and table names: never row values,
 * actor ids or correlation ids.
 */
export const TELEMETRY_CHANNELS = {
  /** tl.transaction committed: `{ captured: boolean, durationMs }`. */
  transactionBound: 'threadline:transaction:bound',
  /** tl.recordAction stored an action: `{ status: 'ok' | 'error', linked: boolean }`. */
  actionRecorded: 'threadline:action:recorded',
  /** installTriggers finished: `{ tables: string[], count, durationMs }`. */
  triggersInstalled: 'threadline:triggers:installed',
  /** removeTriggers finished: `{ tables: string[], count, durationMs }`. */
  triggersRemoved: 'threadline:triggers:removed',
  /** tl.health.coverage returned: `{ schemas, covered, uncovered, expectedUncovered, durationMs }`. */
  healthChecked: 'threadline:health:checked',
  /** A health check (coverage, findings, verify) failed: `{ check, code, durationMs }`. */
  healthFailed: 'threadline:health:failed',
  /** Findings were read: `{ errors, warnings, codes: { [code]: count }, durationMs }`. */
  findingsChecked: 'threadline:health:findings_checked',
  /** tl.health.verify returned: `{ ok, expected, covered, violated, durationMs }`. */
  coverageVerified: 'threadline:health:verified',
  /** tl.policy.show returned: `{ tables, matches, drift, notDeployed, couldNotIntrospect, durationMs }`. */
  policyChecked: 'threadline:policy:checked',
  /** One continuity baseline batch: `{ table, batch, scanned, recorded }`. */
  baselineBatch: 'threadline:continuity:baseline_batch',
  /** A continuity baseline finished: `{ table, batches, scanned, recorded, durationMs }`. */
  baselineCompleted: 'threadline:continuity:baseline_completed',
  /** Reserved for retention purge: `{ dryRun }`. */
  purgeStart: 'threadline:retention:purge_start',
  /** Reserved for retention purge: `{ batch, deletedChanges, deletedTransactions, durationMs }`. */
  purgeBatch: 'threadline:retention:purge_batch',
  /** Reserved for retention purge: `{ dryRun, batches, deletedChanges, deletedTransactions, durationMs }`. */
  purgeEnd: 'threadline:retention:purge_end',
  /** Reserved for retention purge: `{ dryRun, code, durationMs }`. */
  purgeError: 'threadline:retention:purge_error',
  /** tl.integrity.seal started: `{ chunkSize }`. */
  sealStart: 'threadline:integrity:seal_start',
  /** A seal finished: `{ links, sealedRows, pending: boolean, durationMs }`. */
  sealEnd: 'threadline:integrity:seal_end',
  /** A seal failed: `{ code, durationMs }`. */
  sealError: 'threadline:integrity:seal_error',
  /** tl.integrity.verify started: `{ windowed: boolean }`. */
  verifyStart: 'threadline:integrity:verify_start',
  /** A verification finished: `{ ok, sealsChecked, rowsChecked, counts: { [kind]: n }, durationMs }`. */
  verifyEnd: 'threadline:integrity:verify_end',
  /** A verification failed to run: `{ code, durationMs }`. */
  verifyError: 'threadline:integrity:verify_error',
  /** Reserved for export: `{ format, rowCount, truncated, durationMs }`. */
  exportCompleted: 'threadline:export:completed',
  /** Reserved for export: `{ format, rowCount, code, durationMs }`. */
  exportFailed: 'threadline:export:failed',
  /** Reserved for the operator surface: `{ path }` (a route template, never a URL with values). */
  operatorAccessGranted: 'threadline:operator:access_granted',
  /** Reserved for the operator surface: `{ path }`. */
  operatorAccessDenied: 'threadline:operator:access_denied',
  /** Reserved for the operator surface: `{ path, code }`. */
  operatorAccessError: 'threadline:operator:access_error',
} as const;

/**
 * Tracing channels (node:diagnostics_channel `tracingChannel(name)`) for work with a duration.
 * The context object is the same kind of payload as above; on success it gains the summary
 * counts, on failure `errorCode` (never the error message, which may quote data).
 */
export const TELEMETRY_TRACING_CHANNELS = {
  /** tl.health.coverage, tl.health.findings, tl.health.verify: `{ check }`. */
  healthCheck: 'threadline:health:check',
  /** tl.policy.show. */
  policyCheck: 'threadline:policy:check',
  /** tl.continuity.baseline: `{ table }`. */
  continuityBaseline: 'threadline:continuity:baseline',
  /** Reserved for retention purge: `{ dryRun }`. */
  retentionPurge: 'threadline:retention:purge',
  /** Reserved for export: `{ format }`. */
  export: 'threadline:export:run',
  /** tl.integrity.seal: `{ chunkSize }`. */
  integritySeal: 'threadline:integrity:seal',
  /** tl.integrity.verify: `{ windowed }`. */
  integrityVerify: 'threadline:integrity:verify',
} as const;

export type TelemetryChannelName = (typeof TELEMETRY_CHANNELS)[keyof typeof TELEMETRY_CHANNELS];
export type TelemetryTracingChannelName =
  (typeof TELEMETRY_TRACING_CHANNELS)[keyof typeof TELEMETRY_TRACING_CHANNELS];

/** Every channel name core publishes on or reserves, for subscribers that want them all. */
export const TELEMETRY_CHANNEL_NAMES: readonly TelemetryChannelName[] = Object.values(TELEMETRY_CHANNELS);
export const TELEMETRY_TRACING_CHANNEL_NAMES: readonly TelemetryTracingChannelName[] =
  Object.values(TELEMETRY_TRACING_CHANNELS);
