import { type Attributes, type Span, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { TELEMETRY_TRACING_CHANNEL_NAMES } from '@threadline/core';
import { onTracing } from './subscriptions.js';

/** Only primitive facts become attributes (payloads carry counts, codes and table names). */
function attributesOf(payload: Record<string, unknown>, prefix = 'threadline.'): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(payload)) {
    if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'string')
      out[`${prefix}${snake(key)}`] = value;
    else if (Array.isArray(value) && value.every((v) => typeof v === 'string'))
      out[`${prefix}${snake(key)}`] = value as string[];
  }
  return out;
}

function snake(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** One span per traced unit of work (`threadline:health:check` → span `threadline.health.check`). */
export function traceSpans(tracer: Tracer): () => void {
  const spans = new WeakMap<object, Span>();
  const offs = TELEMETRY_TRACING_CHANNEL_NAMES.map((name) =>
    onTracing(name, {
      start(ctx) {
        spans.set(ctx, tracer.startSpan(name.replaceAll(':', '.'), { attributes: attributesOf(ctx) }));
      },
      error(ctx) {
        const span = spans.get(ctx);
        if (!span) return;
        const code = typeof ctx.errorCode === 'string' ? ctx.errorCode : 'error';
        span.setStatus({ code: SpanStatusCode.ERROR, message: code });
        span.setAttribute('error.type', code);
      },
      asyncEnd(ctx) {
        const span = spans.get(ctx);
        if (!span) return;
        spans.delete(ctx);
        const { durationMs: _duration, errorCode: _code, ...rest } = ctx;
        span.setAttributes(attributesOf(rest));
        span.end();
      },
    }),
  );
  return () => {
    for (const off of offs) off();
  };
}
