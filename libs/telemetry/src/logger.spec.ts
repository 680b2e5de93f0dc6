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

  it('adds the active trace id, a real one even where spans are not recorded', async () => {
    startTelemetry({ serviceName: 'test' });
    const { lines, destination } = capture();
    const log = createLogger({ service: 'test', destination });
    const span = trace.getTracer('t').startSpan('op');
    expect(span.isRecording()).toBe(false); // nowhere to export it: not worth recording
    context.with(trace.setSpan(context.active(), span), () => log.info('inside'));
    span.end();
    expect(lines[0]?.['trace_id']).toBe(span.spanContext().traceId);
    expect(lines[0]?.['trace_id']).toMatch(/^(?!0{32})[0-9a-f]{32}$/); // a real id, not the no-op span's zeros
    await stopTelemetry();
  });

  it('records spans to export in the share asked for, where the trace begins', async () => {
    const recorded = async (sampleRatio: number) => {
      // A closed port: nothing is sent, the sampler's decision is what is looked at.
      startTelemetry({ serviceName: 'test', otlpEndpoint: 'http://127.0.0.1:9/v1/traces', sampleRatio });
      const spans = Array.from({ length: 1000 }, () => trace.getTracer('t').startSpan('op'));
      const share = spans.filter((s) => s.isRecording()).length / spans.length;
      // A child follows its parent's decision, whatever the ratio.
      const parent = spans[0]!;
      const child = trace.getTracer('t').startSpan('child', {}, trace.setSpan(context.active(), parent));
      expect(child.isRecording()).toBe(parent.isRecording());
      await stopTelemetry();
      return share;
    };
    expect(await recorded(1)).toBe(1);
    expect(await recorded(0)).toBe(0);
    // 1,000 draws of 0.1: 100 expected, sd 9.5; these bounds are more than 5 sd away.
    const tenth = await recorded(0.1);
    expect(tenth).toBeGreaterThan(0.05);
    expect(tenth).toBeLessThan(0.15);
  });
});
