import { channel } from 'node:diagnostics_channel';
import { TELEMETRY_CHANNELS } from '../telemetry/channels.js';

/** Retention telemetry (SPEC section 9): counts, durations and codes only. */
export const RETENTION_CHANNELS = {
  start: TELEMETRY_CHANNELS.purgeStart,
  batch: TELEMETRY_CHANNELS.purgeBatch,
  end: TELEMETRY_CHANNELS.purgeEnd,
  error: TELEMETRY_CHANNELS.purgeError,
} as const;

const channels = {
  start: channel(RETENTION_CHANNELS.start),
  batch: channel(RETENTION_CHANNELS.batch),
  end: channel(RETENTION_CHANNELS.end),
  error: channel(RETENTION_CHANNELS.error),
};

export function publishRetention(
  event: keyof typeof RETENTION_CHANNELS,
  payload: Record<string, unknown>,
): void {
  const ch = channels[event];
  if (ch.hasSubscribers) ch.publish(payload);
}
