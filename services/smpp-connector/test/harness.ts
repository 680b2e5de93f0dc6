import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { events, sms } from '@tern/contracts';
import { followRaw, startServiceProcess, type ServiceProcess } from '@tern/testing';

export interface ChannelEntry {
  id: string;
  port: number;
  systemId: string;
  password: string;
  tpsPerBind: number;
  binds?: number;
  window?: number;
  responseTimeoutMs?: number;
}

/** A channels file for the connector: passwords referenced by variable, as in production. */
export function channelsFile(channels: ChannelEntry[]): { path: string; env: Record<string, string> } {
  const dir = mkdtempSync(join(tmpdir(), 'connector-'));
  const path = join(dir, 'channels.yaml');
  const lines = channels.map(
    (c) =>
      `  - { id: ${c.id}, host: 127.0.0.1, port: ${c.port}, systemId: ${c.systemId}, password: { env: PW_${c.systemId.toUpperCase()} }, ` +
      `tpsPerBind: ${c.tpsPerBind}, window: ${c.window ?? 20}, binds: ${c.binds ?? 2}, enquireLinkIntervalMs: 2000, responseTimeoutMs: ${c.responseTimeoutMs ?? 3000} }`,
  );
  writeFileSync(path, ['channels:', ...lines].join('\n'));
  return {
    path,
    env: Object.fromEntries(channels.map((c) => [`PW_${c.systemId.toUpperCase()}`, c.password])),
  };
}

export type RunningConnector = ServiceProcess;

/** Runs the built connector as its own process, the way it is deployed, and waits for its HTTP port. */
export function startConnector(env: Record<string, string>): Promise<RunningConnector> {
  return startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), env);
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

/** Follows topics (declared names) from now on, each record's value and headers as written. */
export async function follow(
  topicNames: string[],
  onRecord: (topic: string, value: Buffer, headers: Record<string, Buffer | string | undefined>) => void,
): Promise<{ stop: () => Promise<void> }> {
  return followRaw(topicNames, (topic, message) => {
    if (message.value)
      onRecord(topic, message.value, (message.headers ?? {}) as Record<string, Buffer | string | undefined>);
  });
}
