import { peekOption as peek } from '../plain-input.js';
import { TELEMETRY_CHANNELS, TELEMETRY_TRACING_CHANNELS } from '../telemetry/channels.js';
import { errorCode, publish, traced } from '../telemetry/publish.js';
import { type SealSchedule, type SealScheduleOptions, scheduleSeals } from './schedule.js';
import { type IntegrityContext, seal } from './seal.js';
import { integrityStatus } from './status.js';
import type {
  IntegrityStatus,
  IntegrityVerifyOptions,
  IntegrityVerifyResult,
  SealOptions,
  SealResult,
} from './types.js';
import { verify } from './verify.js';

export type { SealSchedule, SealScheduleOptions } from './schedule.js';
export type { IntegrityContext } from './seal.js';
export { appendPurgeLink } from './seal.js';
export type * from './types.js';

/** `tl.integrity`: tamper evidence (SPEC section 13). */
export interface IntegrityApi {
  /** Extend the hash chain over every committed audit row not sealed yet. */
  seal(options?: SealOptions): Promise<SealResult>;
  /** Recompute the chain and the sealed rows (optionally only rows captured in [from, to)). */
  verify(options?: IntegrityVerifyOptions): Promise<IntegrityVerifyResult>;
  /** The newest seal and verification. */
  status(): Promise<IntegrityStatus>;
  /** Seal in this process every `every` (one seal at a time). */
  schedule(options: SealScheduleOptions): SealSchedule;
}

async function observed<T>(
  start: typeof TELEMETRY_CHANNELS.sealStart | typeof TELEMETRY_CHANNELS.verifyStart,
  end: typeof TELEMETRY_CHANNELS.sealEnd | typeof TELEMETRY_CHANNELS.verifyEnd,
  fail: typeof TELEMETRY_CHANNELS.sealError | typeof TELEMETRY_CHANNELS.verifyError,
  payload: Record<string, unknown>,
  fn: () => Promise<T>,
  summary: (result: T) => Record<string, unknown>,
): Promise<T> {
  const started = performance.now();
  publish(start, () => payload);
  try {
    const result = await fn();
    publish(end, () => ({ ...summary(result), durationMs: performance.now() - started }));
    return result;
  } catch (error) {
    publish(fail, () => ({ code: errorCode(error), durationMs: performance.now() - started }));
    throw error;
  }
}

export function createIntegrity(ctx: IntegrityContext): IntegrityApi {
  const sealSummary = (r: SealResult) => ({
    links: r.links.length,
    sealedRows: r.sealedRows,
    pending: r.pending !== null,
  });
  const verifySummary = (r: IntegrityVerifyResult) => ({
    ok: r.ok,
    sealsChecked: r.sealsChecked,
    rowsChecked: r.rowsChecked,
    counts: { ...r.counts },
  });
  const api: IntegrityApi = {
    seal: (options) => {
      const chunkSize = peek(options, 'chunkSize');
      const payload = { chunkSize: typeof chunkSize === 'number' ? chunkSize : 50_000 };
      return observed(
        TELEMETRY_CHANNELS.sealStart,
        TELEMETRY_CHANNELS.sealEnd,
        TELEMETRY_CHANNELS.sealError,
        payload,
        () =>
          traced(TELEMETRY_TRACING_CHANNELS.integritySeal, payload, () => seal(ctx, options), sealSummary),
        sealSummary,
      );
    },
    verify: (options) => {
      const payload = { windowed: peek(options, 'from') !== undefined || peek(options, 'to') !== undefined };
      return observed(
        TELEMETRY_CHANNELS.verifyStart,
        TELEMETRY_CHANNELS.verifyEnd,
        TELEMETRY_CHANNELS.verifyError,
        payload,
        () =>
          traced(
            TELEMETRY_TRACING_CHANNELS.integrityVerify,
            payload,
            () => verify(ctx, options),
            verifySummary,
          ),
        verifySummary,
      );
    },
    status: () => integrityStatus(ctx),
    schedule: (options) => scheduleSeals((o) => api.seal(o), options),
  };
  return api;
}
