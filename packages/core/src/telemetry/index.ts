export {
  TELEMETRY_CHANNEL_NAMES,
  TELEMETRY_CHANNELS,
  TELEMETRY_TRACING_CHANNEL_NAMES,
  TELEMETRY_TRACING_CHANNELS,
  type TelemetryChannelName,
  type TelemetryTracingChannelName,
} from './channels.js';
