import { TenantDirectory } from '@tern/config';
import { encodeMessage, events, signedConversionEvent, signedSendEvent, sms } from '@tern/contracts';
import {
  KafkaClient,
  PoisonMessageError,
  TransientError,
  topics,
  type ConsumedRecord,
  type TopicDef,
} from '@tern/kafka';
import { sharedRedis, TokenBuckets } from '@tern/redis';
import { createLogger } from '@tern/telemetry';
import { BulkPacer } from '@tern/service-kit';
import {
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  testNamespace,
  uniqueName,
  waitFor,
} from '@tern/testing';
import { Acceptor } from '../src/acceptor';
import { ConversionIntake } from '../src/conversion-intake';
import { SendEventLedger } from '../src/event-ledger';
import { IdempotencyStore } from '../src/idempotency';
import { MessageStore } from '../src/message-store';
import { conversionEventBatchIntake, sendEventBatchIntake, sendEventIntake } from '../src/event-intake';
import { tenantsFile, type TestTenant } from './client';

// The intakes as ingest wires them, over the real Redis and Kafka: a record delivered twice (a crash or a
// rebalance before its offset was committed) must not become two messages, reference or not; the same
// event from another place in the topic is a replay, refused. A fetch's events are accepted in one call;
// when one is refused, the consumer hands the call's records over one at a time, and none is taken twice.
// The same holds for conversion events: each message's conversion is published once.
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

const redis = sharedRedis({ redisUrl: infra.redisUrl });
const kafka = new KafkaClient({
  brokers: infra.kafkaBrokers,
  clientId: run,
  logger,
  topicNamespace: testNamespace(),
});
const accepted: events.MessageAccepted[] = [];
const conversions: events.ConversionReported[] = [];
let stopReading: () => Promise<void>;

beforeAll(async () => {
  await ensurePlatformTopics();
  await kafka.producer().connect();
  ({ stop: stopReading } = await followTopics(
    [topics.accepted, topics.conversions] as TopicDef<unknown>[],
    (topic, value) => {
      if (topic === topics.accepted.name) {
        const a = value as events.MessageAccepted;
        if (a.message?.tenantId === tenant.id) accepted.push(a);
      } else {
        const c = value as events.ConversionReported;
        if (c.tenantId === tenant.id) conversions.push(c);
      }
    },
  ));
});
afterAll(async () => {
  await stopReading();
  await kafka.disconnect();
  await redis.quit();
});

const file = tenantsFile([tenant]);
const tenants = TenantDirectory.load(file.path, { ...process.env, ...file.env });
const messages = new MessageStore(redis, 3_600_000, 1000);
const sends = new IdempotencyStore(redis, 3600);
const acceptor = new Acceptor({
  producer: kafka.producer(),
  idempotency: sends,
  messages,
  limiter: new TokenBuckets(redis, `test:${run}:`),
  bulkPace: new BulkPacer({ yieldDelayMs: 0, minRatePerSecond: 1 }),
  log: logger,
  policy: () => ({ now: new Date(), allowPrivateCallbacks: false, maxSegments: 10 }),
});

describe('send events without client_reference, delivered twice', () => {
  const intakeDeps = () => [tenants, new SendEventLedger(redis), acceptor] as const;
  const request = (to = '+6281234567890') =>
    sms.SendMessageRequest.fromPartial({
      to,
      from: 'Tern',
      body: 'Your order shipped',
      type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
    });
  const event = (eventId: string, to?: string): events.SendEvent =>
    signedSendEvent(
      { tenantId: tenant.id, keyId: tenant.eventKeyId, eventId, sentAt: new Date() },
      request(to),
      tenant.eventSecret,
    );
  const record = (value: events.SendEvent, offset: string): ConsumedRecord<events.SendEvent> => ({
    topic: topics.sendEvents.name,
    partition: 3,
    offset,
    key: tenant.id,
    value,
    rawValue: encodeMessage(events.SendEvent, value),
    headers: {},
    timestamp: new Date(1_790_000_000_000),
  });

  it('is accepted once at the same place in the topic, and refused as a replay from another place', async () => {
    const intake = sendEventIntake(...intakeDeps());
    const first = event(`${run}-1`);
    await intake(record(first, '41'));
    await intake(record(first, '41'));
    await waitFor('the first message accepted', () => accepted.length >= 1);
    // The same event written again (a captured one, or a producer's retry): refused, not a second message.
    const replay = intake(record(first, '42'));
    await expect(replay).rejects.toBeInstanceOf(PoisonMessageError);
    await expect(replay).rejects.toMatchObject({ reason: 'REPLAYED', field: 'event_id' });
    // Another event of the same content is another message, as the producer said.
    await intake(record(event(`${run}-2`), '43'));
    await waitFor('the second event accepted', () => accepted.length >= 2);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(accepted).toHaveLength(2);
    expect(new Set(accepted.map((a) => a.message?.messageId)).size).toBe(2);
  });

  it('a fetch is accepted in one call, once; one refused in it leaves the rest to be taken singly, once', async () => {
    const batch = sendEventBatchIntake(...intakeDeps());
    const before = accepted.length;
    const three = [`${run}-b1`, `${run}-b2`, `${run}-b3`].map((id, i) => record(event(id), `${50 + i}`));
    await batch(three);
    await waitFor('three messages accepted', () => accepted.length >= before + 3);
    // The whole call redelivered: the same places, so repeats.
    await batch(three);

    // A message validation refuses, beside a valid one: the call fails as a whole (neither transient nor
    // poison), and the consumer hands the records over one by one, which gives the bad one its reason.
    const valid = record(event(`${run}-b4`), '60');
    const invalid = record(event(`${run}-b5`, '+4420'), '61');
    const failed = (await batch([valid, invalid]).catch((error: unknown) => error)) as Error;
    expect(failed.message).toBe('1 of 2 send events not accepted together');
    expect(failed).not.toBeInstanceOf(PoisonMessageError);
    expect(failed).not.toBeInstanceOf(TransientError);
    await batch([valid]);
    const alone = batch([invalid]);
    await expect(alone).rejects.toMatchObject({ reason: 'NOT_E164', field: 'message.to' });
    await waitFor('four messages accepted', () => accepted.length >= before + 4);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(accepted.length - before).toBe(4);
    expect(new Set(accepted.slice(before).map((a) => a.message?.messageId)).size).toBe(4);
  });
});

describe('conversion events, a fetch at a time', () => {
  it('records a call once; one it cannot take leaves the rest to be taken singly, once', async () => {
    const reference = (i: number) => `${run}-m${i}`;
    const outcomes = await acceptor.accept(
      tenants.get(tenant.id)!,
      [1, 2, 3, 4, 5].map((i) =>
        sms.SendMessageRequest.fromPartial({
          to: '+6281234567890',
          from: 'Tern',
          body: 'Your code is 123456',
          type: sms.MessageType.MESSAGE_TYPE_OTP,
          clientReference: reference(i),
        }),
      ),
      'grpc',
    );
    const ids = outcomes.map((o) => (o.kind === 'accepted' ? o.response.messageId : ''));
    expect(ids.every((id) => id !== '')).toBe(true);
    const intake = new ConversionIntake(
      messages,
      sends,
      new IdempotencyStore(redis, 3600, undefined, `test:${run}:conversion`),
      kafka.producer(),
    );
    const batch = conversionEventBatchIntake(tenants, intake);
    let offset = 100;
    const record = (conversion: Partial<sms.ReportConversionRequest>) => {
      const fields = {
        tenantId: tenant.id,
        keyId: tenant.eventKeyId,
        eventId: `${run}-${offset}`,
        sentAt: new Date(),
      };
      const value = signedConversionEvent(
        fields,
        sms.ReportConversionRequest.fromPartial(conversion),
        tenant.eventSecret,
      );
      return {
        topic: topics.conversionEvents.name,
        partition: 2,
        offset: String(offset++),
        key: tenant.id,
        value,
        rawValue: encodeMessage(events.ConversionEvent, value),
        headers: {},
        timestamp: new Date(),
      } satisfies ConsumedRecord<events.ConversionEvent>;
    };
    const conversionsFor = (id: string) => conversions.filter((c) => c.messageId === id);

    // By id and by reference, in one call; the call again (redelivered) publishes nothing new.
    const three = [
      record({ messageId: ids[0] }),
      record({ clientReference: reference(2) }),
      record({ messageId: ids[2] }),
    ];
    await batch(three);
    await waitFor('three conversions published', () => conversions.length >= 3);
    await batch(three);

    // A conversion of no known message beside a valid one: the call fails as a whole (neither transient nor
    // poison), and one at a time the unknown one gets its reason.
    const valid = record({ messageId: ids[3] });
    const unknown = record({ messageId: `${run}-nobody` });
    const failed = (await batch([valid, unknown]).catch((error: unknown) => error)) as Error;
    expect(failed.message).toBe('1 of 2 conversion events not recorded together');
    expect(failed).not.toBeInstanceOf(PoisonMessageError);
    expect(failed).not.toBeInstanceOf(TransientError);
    await batch([valid]);
    await expect(batch([unknown])).rejects.toMatchObject({
      reason: 'MESSAGE_NOT_FOUND',
      field: 'conversion',
    });

    // One message twice in a call: the second finds the first in progress, so the call is taken again singly.
    const twice = [record({ messageId: ids[4] }), record({ clientReference: reference(5) })];
    await expect(batch(twice)).rejects.toThrow('1 of 2 conversion events not recorded together');
    for (const one of twice) await batch([one]);

    await waitFor('five conversions published', () => conversions.length >= 5);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(ids.map((id) => conversionsFor(id).length)).toEqual([1, 1, 1, 1, 1]);
    expect(conversions).toHaveLength(5);
  });
});
