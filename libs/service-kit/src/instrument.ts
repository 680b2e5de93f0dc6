// First import of every service's main.ts: starts tracing before NestJS, grpc-js and kafkajs are loaded,
// so their modules can be instrumented, and sizes V8's heap growth before they allocate. Imports nothing
// that loads them.
import './compile-cache';
import { commonSettings, loadConfig } from '@tern/config';
import { startTelemetry } from '@tern/telemetry';
import { setHeapGrowth } from './heap-growth';

export function instrument(serviceName: string): void {
  const { otlpEndpoint, traceSampleRatio, heapGrowingPercent } = loadConfig({
    otlpEndpoint: commonSettings.otlpEndpoint,
    traceSampleRatio: commonSettings.traceSampleRatio,
    heapGrowingPercent: commonSettings.heapGrowingPercent,
  });
  setHeapGrowth(heapGrowingPercent);
  startTelemetry({ serviceName, otlpEndpoint, sampleRatio: traceSampleRatio });
}
