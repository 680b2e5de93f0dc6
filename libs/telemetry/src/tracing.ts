import {
  context,
  propagation,
  trace,
  type Context,
  type TextMapGetter,
  type TextMapSetter,
} from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { GrpcInstrumentation } from '@opentelemetry/instrumentation-grpc';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  BatchSpanProcessor,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';

export interface TelemetryOptions {
  serviceName: string;
  /**
   * OTLP/HTTP traces endpoint; when absent no span is recorded, but every span still has its trace id,
   * which reaches logs and Kafka headers.
   */
  otlpEndpoint?: string | undefined;
  /** With an endpoint: the share of traces recorded, decided where a trace begins (default 1). */
  sampleRatio?: number | undefined;
}

let provider: NodeTracerProvider | undefined;
let unregisterInstrumentations: (() => void) | undefined;

/**
 * Starts OpenTelemetry tracing. Call it from the first import of a service's main.ts, before NestJS, grpc-js
 * and kafkajs load, so the http and grpc instrumentations can patch them.
 *
 * Spans are recorded and exported only when an OTLP endpoint is configured (a share of them: sampleRatio);
 * either way every span has a trace id, which reaches logs and Kafka headers. We register the tracer provider ourselves rather than through NodeSDK, which
 * registers no provider at all without an exporter and starts OTLP metrics and logs exporters from
 * environment defaults (metrics are Prometheus here).
 */
export function startTelemetry(options: TelemetryOptions): void {
  if (provider) return;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: options.serviceName }),
    // Recording a span costs every record of every hop; unexported, it buys nothing the ids do not.
    sampler: options.otlpEndpoint
      ? new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(options.sampleRatio ?? 1) })
      : new AlwaysOffSampler(),
    spanProcessors: options.otlpEndpoint
      ? [new BatchSpanProcessor(new OTLPTraceExporter({ url: options.otlpEndpoint }))]
      : [],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  // An explicit list, not auto-instrumentations: these are the libraries we use that carry requests.
  unregisterInstrumentations = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [new HttpInstrumentation(), new GrpcInstrumentation()],
  });
}

/** Flushes spans still buffered and stops tracing. */
export async function stopTelemetry(): Promise<void> {
  const running = provider;
  provider = undefined;
  unregisterInstrumentations?.();
  unregisterInstrumentations = undefined;
  await running?.shutdown();
  // Unregistered, so a later start registers its own provider (the API keeps the first one otherwise).
  if (running) {
    trace.disable();
    propagation.disable();
    context.disable();
  }
}

export const tracer = () => trace.getTracer('tern');

/** Carrier for W3C trace context in Kafka headers (values may arrive as Buffers). */
export type HeaderCarrier = Record<string, Buffer | string | (Buffer | string)[] | undefined>;

const headerSetter: TextMapSetter<HeaderCarrier> = {
  set: (carrier, key, value) => {
    carrier[key] = value;
  },
};
const headerGetter: TextMapGetter<HeaderCarrier> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    const first = Array.isArray(value) ? value[0] : value;
    return first === undefined ? undefined : first.toString();
  },
};

export function injectTraceContext(headers: HeaderCarrier, ctx: Context = context.active()): void {
  propagation.inject(ctx, headers, headerSetter);
}

export function extractTraceContext(headers: HeaderCarrier): Context {
  return propagation.extract(context.active(), headers, headerGetter);
}

/** The active trace id, or undefined outside any span. */
export function activeTraceId(): string | undefined {
  const span = trace.getSpan(context.active());
  return span?.spanContext().traceId;
}
