import { channel } from 'node:diagnostics_channel';

/**
 * Operator-access telemetry (SPEC section 9): who got in is not published (no actor ids), only
 * the outcome, the page's route and, for errors, a code.
 */
export const OPERATOR_CHANNELS = {
  granted: 'threadline:operator:granted',
  denied: 'threadline:operator:denied',
  error: 'threadline:operator:error',
} as const;

const granted = channel(OPERATOR_CHANNELS.granted);
const denied = channel(OPERATOR_CHANNELS.denied);
const failed = channel(OPERATOR_CHANNELS.error);

export function publishAccess(outcome: 'granted' | 'denied', route: string): void {
  const ch = outcome === 'granted' ? granted : denied;
  if (ch.hasSubscribers) ch.publish({ route });
}

export function publishError(route: string, code: string): void {
  if (failed.hasSubscribers) failed.publish({ route, code });
}
