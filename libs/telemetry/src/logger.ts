import { context, trace } from '@opentelemetry/api';
import pino, { type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/**
 * Field names whose values never reach a log: credentials and message content (OTP codes live in bodies).
 * Matched at the top level and one level down (`{ message: { body } }`).
 */
export const REDACTED_FIELDS = [
  'password',
  'secret',
  'apiKey',
  'api_key',
  'authorization',
  'signature',
  'token',
  'body',
  'text',
  'shortMessage',
  'short_message',
  'messagePayload',
] as const;

const redactPaths = REDACTED_FIELDS.flatMap((f) => [f, `*.${f}`]);

export interface LoggerSettings {
  service: string;
  level?: string;
  /** Where lines go; a test passes its own stream to read them. Default: stdout. */
  destination?: pino.DestinationStream;
}

/** The one logger: JSON lines with service, trace_id and span_id, secrets and bodies replaced by "[redacted]". */
export function createLogger(settings: LoggerSettings): Logger {
  const options: LoggerOptions = {
    level: settings.level ?? 'info',
    base: { service: settings.service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: redactPaths, censor: '[redacted]' },
    formatters: { level: (label) => ({ level: label }) },
    mixin() {
      const span = trace.getSpan(context.active());
      if (!span) return {};
      const { traceId, spanId } = span.spanContext();
      return { trace_id: traceId, span_id: spanId };
    },
  };
  return settings.destination ? pino(options, settings.destination) : pino(options);
}
