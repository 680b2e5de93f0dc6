import { TenantDirectory } from '@tern/config';
import { events, sms } from '@tern/contracts';
import { encodeValue, KafkaClient, topics, type ConsumedRecord, type TopicDef } from '@tern/kafka';
import { sharedRedis, TokenBuckets } from '@tern/redis';
import { createLogger } from '@tern/telemetry';
import {
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  testNamespace,
  uniqueName,
  waitFor,
} from '@tern/testing';
import { Acceptor } from '../src/acceptor';
import { signEvent } from '../src/domain/event-signature';
import { IdempotencyStore } from '../src/idempotency';
import { MessageStore } from '../src/message-store';
import { sendEventIntake } from '../src/send-event-intake';
import { tenantsFile, type TestTenant } from './client';

// The intake as ingest wires it, over the real Redis and Kafka: a record delivered twice (a crash or a
// rebalance before its offset was committed) must not become two messages, reference or not.
const infra = infraFromEnv();
const run = uniqueName('redeliver');
const logger = createLogger({ service: 'ingest-redelivery-test', level: 'error' });
const tenant: TestTenant = {
  id: `t-${run.slice(-8)}`,
  apiKey: `key-${run}`,
  eventKeyId: 'ev1',
  eventSecret: `secret-${run}`,
  perSecond: 1000,
  burst: 1000,
};

describe('a send event without client_reference, delivered twice', () => {
  const redis = sharedRedis(infra.redisUrl);
  const kafka = new KafkaClient({
    brokers: infra.kafkaBrokers,
    clientId: run,
    logger,
    topicNamespace: testNamespace(),
  });
  const accepted: events.MessageAccepted[] = [];
  let stopReading: () => Promise<void>;

  beforeAll(async () => {
    await ensurePlatformTopics();
    await kafka.producer().connect();
    ({ stop: stopReading } = await followTopics([topics.accepted] as TopicDef<unknown>[], (_topic, value) => {
      const a = value as events.MessageAccepted;
      if (a.message?.tenantId === tenant.id) accepted.push(a);
    }));
  });
  afterAll(async () => {
    await stopReading();
    await kafka.disconnect();
    await redis.quit();
  });

  it('is accepted once at the same place in the topic, and again only from another place', async () => {
    const file = tenantsFile([tenant]);
    const tenants = TenantDirectory.load(file.path, { ...process.env, ...file.env });
    const acceptor = new Acceptor({
      producer: kafka.producer(),
      idempotency: new IdempotencyStore(redis, 3600),
      messages: new MessageStore(redis, 3_600_000, 1000),
      limiter: new TokenBuckets(redis, `test:${run}:`),
      log: logger,
      policy: () => ({ now: new Date(), allowPrivateCallbacks: false, maxSegments: 10 }),
    });
    const intake = sendEventIntake(tenants, acceptor);
    const request = sms.SendMessageRequest.fromPartial({
      to: '+6281234567890',
      from: 'Tern',
      body: 'Your order shipped',
      type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
    });
    const value: events.SendEvent = {
      tenantId: tenant.id,
      keyId: tenant.eventKeyId,
      signature: signEvent(tenant.eventSecret, sms.SendMessageRequest.encode(request).finish()),
      message: request,
      sentAt: new Date(),
    };
    const record = (offset: string): ConsumedRecord<events.SendEvent> => ({
      topic: topics.sendEvents.name,
      partition: 3,
      offset,
      key: tenant.id,
      value,
      rawValue: encodeValue(events.SendEvent, value),
      headers: {},
      timestamp: new Date(1_790_000_000_000),
    });

    await intake(record('41'));
    await intake(record('41'));
    await waitFor('the first message accepted', () => accepted.length >= 1);
    // The same event written twice by its producer is two records: two messages, as the producer said.
    await intake(record('42'));
    await waitFor('the second record accepted', () => accepted.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(accepted).toHaveLength(2);
    expect(new Set(accepted.map((a) => a.message?.messageId)).size).toBe(2);
  });
});
