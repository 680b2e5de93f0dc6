// First import of every service's main.ts: starts tracing before NestJS, grpc-js and kafkajs are loaded,
// so their modules can be instrumented. Imports nothing that loads them.
import './compile-cache';
import { commonSettings, loadConfig } from '@tern/config';
import { startTelemetry } from '@tern/telemetry';

export function instrument(serviceName: string): void {
  const { otlpEndpoint, traceSampleRatio } = loadConfig({
    otlpEndpoint: commonSettings.otlpEndpoint,
    traceSampleRatio: commonSettings.traceSampleRatio,
  });
  startTelemetry({ serviceName, otlpEndpoint, sampleRatio: traceSampleRatio });
}
