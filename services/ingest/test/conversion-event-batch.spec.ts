import { TenantDirectory } from '@tern/config';
import { encodeMessage, events, signedConversionEvent, sms } from '@tern/contracts';
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
import { conversionEventBatchIntake } from '../src/event-intake';
import { IdempotencyStore } from '../src/idempotency';
import { MessageStore } from '../src/message-store';
import { tenantsFile, type TestTenant } from './client';

// The conversion-events intake as ingest wires it, over the real Redis and Kafka: a fetch's conversions are
// reported in one call, each message's once; when one in the call cannot be recorded, the consumer hands the
// call's records over one at a time, and none is published twice.
const infra = infraFromEnv();
const run = uniqueName('conv-batch');
const logger = createLogger({ service: 'ingest-conversion-batch-test', level: 'error' });
const tenant: TestTenant = {
  id: `t-${run.slice(-8)}`,
  apiKey: `key-${run}`,
  eventKeyId: 'ev1',
  eventSecret: `secret-${run}`,
  perSecond: 1000,
  burst: 1000,
};

describe('conversion events, a fetch at a time', () => {
  const redis = sharedRedis({ redisUrl: infra.redisUrl });
  const kafka = new KafkaClient({
    brokers: infra.kafkaBrokers,
    clientId: run,
    logger,
    topicNamespace: testNamespace(),
  });
  const published: events.ConversionReported[] = [];
  let stopReading: () => Promise<void>;

  beforeAll(async () => {
    await ensurePlatformTopics();
    await kafka.producer().connect();
    ({ stop: stopReading } = await followTopics([topics.conversions] as TopicDef<unknown>[], (_t, value) => {
      const reported = value as events.ConversionReported;
      if (reported.tenantId === tenant.id) published.push(reported);
    }));
  });
  afterAll(async () => {
    await stopReading();
    await kafka.disconnect();
    await redis.quit();
  });

  it('records a call once; one it cannot take leaves the rest to be taken singly, once', async () => {
    const file = tenantsFile([tenant]);
    const tenants = TenantDirectory.load(file.path, { ...process.env, ...file.env });
    const producer = kafka.producer();
    const messages = new MessageStore(redis, 3_600_000, 1000);
    const sends = new IdempotencyStore(redis, 3600);
    const acceptor = new Acceptor({
      producer,
      idempotency: sends,
      messages,
      limiter: new TokenBuckets(redis, `test:${run}:`),
      bulkPace: new BulkPacer({ yieldDelayMs: 0, minRatePerSecond: 1 }),
      log: logger,
      policy: () => ({ now: new Date(), allowPrivateCallbacks: false, maxSegments: 10 }),
    });
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
    const conversions = new ConversionIntake(
      messages,
      sends,
      new IdempotencyStore(redis, 3600, undefined, `test:${run}:conversion`),
      producer,
    );
    const batch = conversionEventBatchIntake(tenants, conversions);
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
    const publishedFor = (id: string) => published.filter((p) => p.messageId === id);

    // By id and by reference, in one call; the call again (redelivered) publishes nothing new.
    const three = [
      record({ messageId: ids[0] }),
      record({ clientReference: reference(2) }),
      record({ messageId: ids[2] }),
    ];
    await batch(three);
    await waitFor('three conversions published', () => published.length >= 3);
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

    await waitFor('five conversions published', () => published.length >= 5);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(ids.map((id) => publishedFor(id).length)).toEqual([1, 1, 1, 1, 1]);
    expect(published).toHaveLength(5);
  });
});
