import { type MeterProvider, metrics, type TracerProvider, trace } from '@opentelemetry/api';
import { recordMetrics } from './metrics.js';
import { traceSpans } from './spans.js';

export interface InstrumentOptions {
  /** Default: the global meter provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider;
  /** Default: the global tracer provider (`trace.getTracerProvider()`). */
  tracerProvider?: TracerProvider;
}

export interface Instrumentation {
  /** Stop listening (metrics already recorded stay with the provider). */
  uninstall(): void;
}

const SCOPE = '@threadline/opentelemetry';

/**
 * Turn Threadline's diagnostics channels into OpenTelemetry metrics (counters, histograms and
 * gauges under `threadline.`) and spans (one per health check, policy check, baseline, purge and
 * export). Payloads carry counts, durations, codes and table names only, so neither do these.
 */
export function instrumentThreadline(options: InstrumentOptions = {}): Instrumentation {
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(SCOPE);
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE);
  const stopMetrics = recordMetrics(meter);
  const stopSpans = traceSpans(tracer);
  let installed = true;
  return {
    uninstall() {
      if (!installed) return;
      installed = false;
      stopMetrics();
      stopSpans();
    },
  };
}
