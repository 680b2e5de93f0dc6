import { Writable } from 'node:stream';
import { context, trace } from '@opentelemetry/api';
import { createLogger } from './logger';
import { startTelemetry, stopTelemetry } from './tracing';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { lines, destination };
}

describe('createLogger', () => {
  afterAll(() => stopTelemetry());

  it('redacts secrets and message bodies at the top level and one level down', () => {
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', destination });
    log.info({ password: 'hunter2', message: { body: 'Your code is 123456', to: '+447700900123' } }, 'sent');
    const line = JSON.stringify(lines[0]);
    expect(line).not.toContain('hunter2');
    expect(line).not.toContain('123456');
    expect(lines[0]).toMatchObject({ service: 'test', level: 'info', msg: 'sent', password: '[redacted]' });
    expect(lines[0]?.['message']).toEqual({ body: '[redacted]', to: '+447700900123' });
  });

  it('adds the active trace id', () => {
    startTelemetry({ serviceName: 'test' });
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', destination });
    const span = trace.getTracer('t').startSpan('op');
    expect(span.isRecording()).toBe(true);
    context.with(trace.setSpan(context.active(), span), () => log.info('inside'));
    span.end();
    expect(lines[0]?.['trace_id']).toBe(span.spanContext().traceId);
    expect(lines[0]?.['trace_id']).toMatch(/^(?!0{32})[0-9a-f]{32}$/); // a real id, not the no-op span's zeros
  });
});
