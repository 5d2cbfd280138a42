import diagnostics from 'node:diagnostics_channel';

/** Subscribe `fn` to a channel; returns the unsubscribe. */
export function on(name: string, fn: (payload: Record<string, unknown>) => void): () => void {
  const handler = (message: unknown) => fn((message ?? {}) as Record<string, unknown>);
  diagnostics.subscribe(name, handler);
  return () => diagnostics.unsubscribe(name, handler);
}

export interface TracingHandlers {
  start(ctx: Record<string, unknown>): void;
  error(ctx: Record<string, unknown>): void;
  asyncEnd(ctx: Record<string, unknown>): void;
}

/** Subscribe to a tracing channel's start, error and asyncEnd events; returns the unsubscribe. */
export function onTracing(name: string, handlers: TracingHandlers): () => void {
  const tc = diagnostics.tracingChannel(name);
  const subscribers = {
    start: (m: unknown) => handlers.start(m as Record<string, unknown>),
    end: () => {},
    asyncStart: () => {},
    asyncEnd: (m: unknown) => handlers.asyncEnd(m as Record<string, unknown>),
    error: (m: unknown) => handlers.error(m as Record<string, unknown>),
  };
  tc.subscribe(subscribers);
  return () => tc.unsubscribe(subscribers);
}
