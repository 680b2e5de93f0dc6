import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { events, sms } from '@tern/contracts';
import { dispatchTopic, topics, type TopicDef } from '@tern/kafka';
import {
  closeTestProducer,
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  publishValues,
  startServiceProcess,
  waitFor,
  type ServiceProcess,
} from '@tern/testing';

const infra = infraFromEnv();

/** A routing table file of the test's own; rewrite it to test reloads. */
export function tableFile(yaml: string): { path: string; write: (yaml: string) => void } {
  const path = join(mkdtempSync(join(tmpdir(), 'router-')), 'routing-table.yaml');
  writeFileSync(path, yaml);
  return { path, write: (next) => writeFileSync(path, next) };
}

/** Runs the built router as its own process; each test names its deployment, so its groups start fresh. */
export async function startRouter(
  tablePath: string,
  deployment: string,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const router = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: infra.redisUrl,
    TERN_ROUTING_TABLE_FILE: tablePath,
    TERN_ROUTING_TABLE_RELOAD_MS: '200',
    TERN_ROUTER_DEPLOYMENT: deployment,
    // Only this test's messages: history on the shared topics belongs to other runs.
    TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
    TERN_KAFKA_SESSION_TIMEOUT_MS: '10000',
    ...env,
  });
  try {
    await waitFor('the router to be ready', async () => (await router.ready()).status === 200, 60_000);
  } catch (error) {
    await router.stop('SIGKILL');
    throw error;
  }
  return router;
}

/** The platform's topics and the test's lane exist with their declared partitions. */
export const ensureLaneTopics = (lane: string) => ensurePlatformTopics([lane]);

export const publish = publishValues;

export interface Seen {
  dispatches: events.DispatchRequest[];
  statuses: sms.StatusEvent[];
  /** The dispatches of one message, in order. */
  of(messageId: string): events.DispatchRequest[];
  statusOf(messageId: string): sms.StatusEvent[];
}

/** Follows the lane's dispatch topic and sms.status from now on, keeping what concerns `run`'s messages. */
export async function watch(lane: string, run: string): Promise<{ seen: Seen; stop: () => Promise<void> }> {
  const dispatchName = dispatchTopic(lane).name;
  const seen: Seen = {
    dispatches: [],
    statuses: [],
    of: (id) => seen.dispatches.filter((d) => d.message?.messageId === id),
    statusOf: (id) => seen.statuses.filter((s) => s.messageId === id),
  };
  const { stop } = await followTopics(
    [dispatchTopic(lane), topics.status] as TopicDef<unknown>[],
    (topic, value) => {
      if (topic === dispatchName) seen.dispatches.push(value as events.DispatchRequest);
      else if ((value as sms.StatusEvent).messageId.startsWith(run))
        seen.statuses.push(value as sms.StatusEvent);
    },
  );
  return { seen, stop };
}

/** Approved messages to one country, each to its own number. */
export function messageFactory(run: string) {
  let serial = 0;
  return (over: Partial<events.SmsMessage> = {}): events.SmsMessage => {
    serial++;
    const now = Date.now();
    return events.SmsMessage.fromPartial({
      messageId: `${run}-${serial}`,
      tenantId: 'tenant-a',
      to: `+6590${String(serial).padStart(7, '0')}`,
      from: 'TernTest',
      senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
      body: 'Your code is 123456',
      type: sms.MessageType.MESSAGE_TYPE_OTP,
      segments: 1,
      country: 'SG',
      mccMnc: '52501',
      acceptedAt: new Date(now),
      expiresAt: new Date(now + 600_000),
      ...over,
    });
  };
}

export const approved = (message: events.SmsMessage): events.MessageApproved => ({
  message,
  adjustments: [],
});

/** Reads a counter of the router's /metrics, summed over the labels that match. */
export async function metric(
  router: ServiceProcess,
  name: string,
  match: Record<string, string> = {},
): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${router.httpPort}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(match).every(([k, v]) => line.includes(`${k}="${v}"`)))
      total += Number(line.split(' ').pop());
  }
  return total;
}

export const closeHarness = closeTestProducer;
