import { channel } from 'node:diagnostics_channel';
import { TELEMETRY_CHANNELS } from '@threadline/core';

/**
 * Operator-access telemetry (SPEC section 9): the outcome and the page's route (a route, never a
 * URL with values), and for errors a code. Who got in is not published (no actor ids).
 */
export const OPERATOR_CHANNELS = {
  granted: TELEMETRY_CHANNELS.operatorAccessGranted,
  denied: TELEMETRY_CHANNELS.operatorAccessDenied,
  error: TELEMETRY_CHANNELS.operatorAccessError,
} as const;

const granted = channel(OPERATOR_CHANNELS.granted);
const denied = channel(OPERATOR_CHANNELS.denied);
const failed = channel(OPERATOR_CHANNELS.error);

export function publishAccess(outcome: 'granted' | 'denied', path: string): void {
  const ch = outcome === 'granted' ? granted : denied;
  if (ch.hasSubscribers) ch.publish({ path });
}

export function publishError(path: string, code: string): void {
  if (failed.hasSubscribers) failed.publish({ path, code });
}
