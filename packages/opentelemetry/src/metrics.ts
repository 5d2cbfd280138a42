import type { Attributes, Meter, ObservableResult } from '@opentelemetry/api';
import { type FindingCode, TELEMETRY_CHANNELS } from '@threadline/core';
import { on } from './subscriptions.js';

/** The finding codes of `tl.health.findings()` (core's FindingCode), reported as 0 when clear. */
const KNOWN_FINDING_CODES = [
  'capture_trigger_disabled',
  'capture_trigger_missing',
  'capture_trigger_altered',
  'capture_function_altered',
  'duplicate_capture_trigger',
  'foreign_capture_function',
  'stale_capture_function',
  'key_drift',
  'unregistered_capture',
  'replica_mode_gap',
  'extension_dependency',
  'unsafe_cast',
  'audit_sequence_cache',
] as const satisfies readonly FindingCode[];
// Fails to compile when core gains a finding code this list does not name.
const everyCodeKnown: [Exclude<FindingCode, (typeof KNOWN_FINDING_CODES)[number]>] extends [never]
  ? true
  : never = true;
void everyCodeKnown;

const seconds = (ms: unknown) => (typeof ms === 'number' ? ms / 1000 : 0);
const num = (v: unknown) => (typeof v === 'number' ? v : 0);
const text = (v: unknown, fallback: string) => (typeof v === 'string' ? v : fallback);

/** Counters, histograms and gauges (names under `threadline.`) fed by core's channels. */
export function recordMetrics(meter: Meter): () => void {
  const transactions = meter.createCounter('threadline.transactions', {
    description: 'Transactions run through tl.transaction (captured: whether they wrote audit rows)',
  });
  const actions = meter.createCounter('threadline.actions', {
    description: 'Actions recorded with tl.recordAction',
  });
  const triggers = meter.createCounter('threadline.capture.tables', {
    description: 'Tables whose capture was installed or removed (operation)',
  });
  const checks = meter.createCounter('threadline.health.checks', {
    description: 'Health checks run (check: coverage|findings|verify; outcome: ok|error)',
  });
  const checkDuration = meter.createHistogram('threadline.health.check.duration', {
    description: 'Duration of health checks',
    unit: 's',
  });
  const baselineRows = meter.createCounter('threadline.continuity.baseline.rows', {
    description: 'Rows recorded by continuity baselines',
  });
  const purged = meter.createCounter('threadline.retention.purged', {
    description: 'Audit rows deleted by retention (kind: changes|transactions)',
  });
  const purgeRuns = meter.createCounter('threadline.retention.purge.runs', {
    description: 'Retention purge runs (outcome)',
  });
  const purgeDuration = meter.createHistogram('threadline.retention.purge.duration', { unit: 's' });
  const exports = meter.createCounter('threadline.export.runs', { description: 'Exports (outcome, format)' });
  const exportRows = meter.createCounter('threadline.export.rows', { description: 'Rows exported' });
  const exportDuration = meter.createHistogram('threadline.export.duration', { unit: 's' });
  const sealedRows = meter.createCounter('threadline.integrity.sealed.rows', {
    description: 'Audit rows sealed into the tamper-evidence chain',
  });
  const seals = meter.createCounter('threadline.integrity.seal.runs', { description: 'Seal runs (outcome)' });
  const verifications = meter.createCounter('threadline.integrity.verify.runs', {
    description: 'Integrity verifications (outcome: ok|failed|error)',
  });
  const integrityFindings = meter.createCounter('threadline.integrity.findings', {
    description:
      'Integrity findings by kind (altered, inserted, removed, purged, seal_altered, seal_removed, chain_broken)',
  });
  const integrityDuration = meter.createHistogram('threadline.integrity.duration', { unit: 's' });
  const access = meter.createCounter('threadline.operator.access', {
    description: 'Operator surface authorization results (result: granted|denied|error)',
  });

  // Last known state, reported by observable gauges.
  let coverage: Record<string, number> | null = null;
  let findings: Record<string, number> | null = null;
  let policy: Record<string, number> | null = null;
  const coverageGauge = meter.createObservableGauge('threadline.coverage.tables', {
    description: 'Tables by coverage status at the last coverage check',
  });
  const observeCoverage = (result: ObservableResult) => {
    for (const [status, n] of Object.entries(coverage ?? {})) result.observe(n, { status });
  };
  coverageGauge.addCallback(observeCoverage);
  const findingsGauge = meter.createObservableGauge('threadline.health.findings', {
    description: 'Findings by code at the last findings check',
  });
  const observeFindings = (result: ObservableResult) => {
    for (const [code, n] of Object.entries(findings ?? {})) result.observe(n, { code });
  };
  findingsGauge.addCallback(observeFindings);
  const policyGauge = meter.createObservableGauge('threadline.policy.tables', {
    description: 'Tables by redaction policy state at the last policy check',
  });
  const observePolicy = (result: ObservableResult) => {
    for (const [state, n] of Object.entries(policy ?? {})) result.observe(n, { state });
  };
  policyGauge.addCallback(observePolicy);

  const C = TELEMETRY_CHANNELS;
  const offs = [
    on(C.transactionBound, (p) => transactions.add(1, { captured: p.captured === true })),
    on(C.actionRecorded, (p) => actions.add(1, { status: text(p.status, 'ok') })),
    on(C.triggersInstalled, (p) => triggers.add(num(p.count), { operation: 'install' })),
    on(C.triggersRemoved, (p) => triggers.add(num(p.count), { operation: 'remove' })),
    on(C.healthChecked, (p) => {
      coverage = {
        covered: num(p.covered),
        uncovered: num(p.uncovered),
        expected_uncovered: num(p.expectedUncovered),
      };
    }),
    on(C.findingsChecked, (p) => {
      const codes = (p.codes ?? {}) as Record<string, number>;
      // Every known code reports (0 when clear), and any code a newer core adds reports too.
      findings = Object.fromEntries(
        [...new Set([...KNOWN_FINDING_CODES, ...Object.keys(codes)])].map((code) => [code, codes[code] ?? 0]),
      );
    }),
    on(C.healthFailed, (p) => {
      const attrs: Attributes = {
        check: text(p.check, 'unknown'),
        outcome: 'error',
        'error.type': text(p.code, 'error'),
      };
      checks.add(1, attrs);
      checkDuration.record(seconds(p.durationMs), attrs);
    }),
    on(C.policyChecked, (p) => {
      policy = {
        matches: num(p.matches),
        drift: num(p.drift),
        not_deployed: num(p.notDeployed),
        could_not_introspect: num(p.couldNotIntrospect),
      };
    }),
    on(C.baselineBatch, (p) => baselineRows.add(num(p.recorded))),
    on(C.purgeBatch, (p) => {
      purged.add(num(p.deletedChanges), { kind: 'changes' });
      purged.add(num(p.deletedTransactions), { kind: 'transactions' });
    }),
    on(C.purgeEnd, (p) => {
      purgeRuns.add(1, { outcome: 'ok', dry_run: p.dryRun === true });
      purgeDuration.record(seconds(p.durationMs), { outcome: 'ok' });
    }),
    on(C.purgeError, (p) => {
      purgeRuns.add(1, { outcome: 'error', 'error.type': text(p.code, 'error') });
      purgeDuration.record(seconds(p.durationMs), { outcome: 'error' });
    }),
    on(C.sealEnd, (p) => {
      sealedRows.add(num(p.sealedRows));
      seals.add(1, { outcome: 'ok' });
      integrityDuration.record(seconds(p.durationMs), { operation: 'seal', outcome: 'ok' });
    }),
    on(C.sealError, (p) => {
      seals.add(1, { outcome: 'error', 'error.type': text(p.code, 'error') });
      integrityDuration.record(seconds(p.durationMs), { operation: 'seal', outcome: 'error' });
    }),
    on(C.verifyEnd, (p) => {
      const outcome = p.ok === true ? 'ok' : 'failed';
      verifications.add(1, { outcome });
      for (const [kind, n] of Object.entries((p.counts ?? {}) as Record<string, unknown>)) {
        if (num(n) > 0) integrityFindings.add(num(n), { kind });
      }
      integrityDuration.record(seconds(p.durationMs), { operation: 'verify', outcome });
    }),
    on(C.verifyError, (p) => {
      verifications.add(1, { outcome: 'error', 'error.type': text(p.code, 'error') });
      integrityDuration.record(seconds(p.durationMs), { operation: 'verify', outcome: 'error' });
    }),
    on(C.exportCompleted, (p) => {
      exports.add(1, { outcome: 'ok', format: text(p.format, 'unknown') });
      exportRows.add(num(p.rowCount), { format: text(p.format, 'unknown') });
      exportDuration.record(seconds(p.durationMs), { outcome: 'ok' });
    }),
    on(C.exportFailed, (p) => {
      exports.add(1, {
        outcome: 'error',
        format: text(p.format, 'unknown'),
        'error.type': text(p.code, 'error'),
      });
      exportDuration.record(seconds(p.durationMs), { outcome: 'error' });
    }),
    on(C.operatorAccessGranted, () => access.add(1, { result: 'granted' })),
    on(C.operatorAccessDenied, () => access.add(1, { result: 'denied' })),
    on(C.operatorAccessError, () => access.add(1, { result: 'error' })),
  ];
  // Successful health checks: counted from the tracing channel's asyncEnd (it carries the check name).
  const healthTracing = on('tracing:threadline:health:check:asyncEnd', (p) => {
    if (p.errorCode !== undefined) return;
    const attrs: Attributes = { check: text(p.check, 'unknown'), outcome: 'ok' };
    checks.add(1, attrs);
    checkDuration.record(seconds(p.durationMs), attrs);
  });
  return () => {
    for (const off of [...offs, healthTracing]) off();
    coverageGauge.removeCallback(observeCoverage);
    findingsGauge.removeCallback(observeFindings);
    policyGauge.removeCallback(observePolicy);
  };
}
