import { channel } from 'node:diagnostics_channel';

/** Retention telemetry (SPEC section 9): counts, durations and codes only. */
export const RETENTION_CHANNELS = {
  start: 'threadline:retention:start',
  batch: 'threadline:retention:batch',
  end: 'threadline:retention:end',
  error: 'threadline:retention:error',
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
