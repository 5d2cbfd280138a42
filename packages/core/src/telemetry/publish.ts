import diagnostics from 'node:diagnostics_channel';
import { isThreadlineError } from '../errors.js';
import type { TelemetryChannelName, TelemetryTracingChannelName } from './channels.js';

/** A payload: counts, durations, codes and table names only. */
export type TelemetryPayload = Record<string, unknown>;

const channels = new Map<string, diagnostics.Channel>();

function channel(name: TelemetryChannelName): diagnostics.Channel {
  let ch = channels.get(name);
  if (!ch) {
    ch = diagnostics.channel(name);
    channels.set(name, ch);
  }
  return ch;
}

/** Channels on hot paths, checked with `.hasSubscribers` before building a payload (zero cost otherwise). */
export const hotChannels = {
  transactionBound: channel('threadline:transaction:bound'),
  actionRecorded: channel('threadline:action:recorded'),
};

/** Publish when someone listens; costs one property read otherwise. */
export function publish(name: TelemetryChannelName, payload: () => TelemetryPayload): void {
  const ch = channel(name);
  if (ch.hasSubscribers) ch.publish(payload());
}

/** The error's code for telemetry: a ThreadlineError code, else the error's name. Never its message. */
export function errorCode(error: unknown): string {
  if (isThreadlineError(error)) return error.code;
  return error instanceof Error ? error.name : 'Error';
}

type Tracing = ReturnType<typeof diagnostics.tracingChannel>;
const tracings = new Map<string, Tracing>();

function tracing(name: TelemetryTracingChannelName): Tracing {
  let tc = tracings.get(name);
  if (!tc) {
    tc = diagnostics.tracingChannel(name);
    tracings.set(name, tc);
  }
  return tc;
}

function tracingActive(tc: Tracing): boolean {
  return (
    tc.start.hasSubscribers ||
    tc.end.hasSubscribers ||
    tc.asyncStart.hasSubscribers ||
    tc.asyncEnd.hasSubscribers ||
    tc.error.hasSubscribers
  );
}

/**
 * Run `fn` as traced work: `start` then `end`, and `asyncStart`/`asyncEnd` when it settles, or
 * `error` first when it fails. The context is `context` plus `summary(result)` and `durationMs`
 * on success, `errorCode` on failure (the error itself is not attached: its message may quote data).
 */
export async function traced<T>(
  name: TelemetryTracingChannelName,
  context: TelemetryPayload,
  fn: () => Promise<T>,
  summary: (result: T) => TelemetryPayload,
): Promise<T> {
  const tc = tracing(name);
  if (!tracingActive(tc)) return fn();
  const ctx: TelemetryPayload = { ...context };
  const started = performance.now();
  tc.start.publish(ctx);
  let promise: Promise<T>;
  try {
    promise = fn();
  } finally {
    tc.end.publish(ctx);
  }
  try {
    const result = await promise;
    Object.assign(ctx, summary(result), { durationMs: performance.now() - started });
    tc.asyncStart.publish(ctx);
    tc.asyncEnd.publish(ctx);
    return result;
  } catch (error) {
    Object.assign(ctx, { errorCode: errorCode(error), durationMs: performance.now() - started });
    tc.error.publish(ctx);
    tc.asyncStart.publish(ctx);
    tc.asyncEnd.publish(ctx);
    throw error;
  }
}
