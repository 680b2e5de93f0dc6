import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { events, sms } from '@tern/contracts';
import { uniqueName, waitFor } from '@tern/testing';
import { Kafka, logLevel, type Consumer } from 'kafkajs';

export interface ChannelEntry {
  id: string;
  port: number;
  systemId: string;
  password: string;
  tpsPerBind: number;
  binds?: number;
  window?: number;
}

/** A channels file for the connector: passwords referenced by variable, as in production. */
export function channelsFile(channels: ChannelEntry[]): { path: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'connector-'));
  const path = join(dir, 'channels.yaml');
  const lines = channels.map(
    (c) =>
      `  - { id: ${c.id}, host: 127.0.0.1, port: ${c.port}, systemId: ${c.systemId}, password: { env: PW_${c.systemId.toUpperCase()} }, ` +
      `tpsPerBind: ${c.tpsPerBind}, window: ${c.window ?? 20}, binds: ${c.binds ?? 2}, enquireLinkIntervalMs: 2000, responseTimeoutMs: 3000 }`,
  );
  writeFileSync(path, ['channels:', ...lines].join('\n'));
  return {
    path,
    env: Object.fromEntries(channels.map((c) => [`PW_${c.systemId.toUpperCase()}`, c.password])),
  };
}

export interface RunningConnector {
  process: ChildProcess;
  httpPort: number;
  /** Every line it wrote to stdout (its JSON logs). */
  output: string[];
  ready(): Promise<{ checks: Record<string, { ok: boolean }> }>;
  exited: Promise<number | null>;
}

/** Runs the built connector as its own process, the way it is deployed, and waits for its HTTP port. */
export async function startConnector(env: Record<string, string>): Promise<RunningConnector> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'main.js')], {
    // Info level: the port comes from the "service started" line.
    env: { PATH: process.env.PATH ?? '', TERN_HTTP_PORT: '0', ...env, TERN_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let httpPort = 0;
  const output: string[] = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    output.push(line);
    const entry = JSON.parse(line) as { msg?: string; httpPort?: number };
    if (entry.msg === 'service started' && entry.httpPort) httpPort = entry.httpPort;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor('the connector to listen', () => httpPort > 0);
  return {
    process: child,
    httpPort,
    output,
    exited,
    ready: async () =>
      (await (await fetch(`http://127.0.0.1:${httpPort}/health/ready`)).json()) as {
        checks: Record<string, { ok: boolean }>;
      },
  };
}

/** Dispatch requests as the router would publish them; each message to its own number. */
export function dispatchFactory(run: string, lane: string) {
  let serial = 0;
  return (channelId: string, body: string, over: Partial<events.SmsMessage> = {}): events.DispatchRequest => {
    serial++;
    return events.DispatchRequest.fromPartial({
      message: events.SmsMessage.fromPartial({
        messageId: `${run}-${serial}`,
        tenantId: 'tenant-a',
        to: `+6590${String(serial).padStart(7, '0')}`,
        from: 'TernTest',
        senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
        body,
        type: sms.MessageType.MESSAGE_TYPE_OTP,
        ...over,
      }),
      attempt: 1,
      channelId,
      lane,
      routedAt: new Date(),
    });
  };
}

/** Follows topics with a plain kafkajs consumer (not our wrapper) from now on. */
export async function follow(
  brokers: string[],
  topicNames: string[],
  onRecord: (topic: string, value: Buffer, headers: Record<string, Buffer | string | undefined>) => void,
): Promise<Consumer> {
  const kafka = new Kafka({ clientId: 'connector-test-reader', brokers, logLevel: logLevel.NOTHING });
  const reader = kafka.consumer({ groupId: uniqueName('connector-test-reader') });
  let joined = false;
  reader.on(reader.events.GROUP_JOIN, () => (joined = true));
  await reader.connect();
  await reader.subscribe({ topics: topicNames });
  await reader.run({
    eachMessage: async ({ topic, message }) => {
      if (message.value)
        onRecord(
          topic,
          message.value,
          (message.headers ?? {}) as Record<string, Buffer | string | undefined>,
        );
    },
  });
  await waitFor('the reader to join', () => joined);
  return reader;
}
