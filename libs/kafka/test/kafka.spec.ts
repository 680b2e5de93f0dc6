import { createHook } from 'node:async_hooks';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, trace } from '@opentelemetry/api';
import { encodeMessage, events } from '@tern/contracts';
import { activeTraceId, createLogger, metricsRegistry, startTelemetry, stopTelemetry } from '@tern/telemetry';
import { infraFromEnv, uniqueName, waitFor } from '@tern/testing';
import {
  AclOperationTypes,
  AclPermissionTypes,
  AclResourceTypes,
  ConfigResourceTypes,
  Kafka,
  logLevel,
  ResourcePatternTypes,
  type IHeaders,
} from 'kafkajs';
import { commonSettings, loadConfig } from '@tern/config';
import {
  defineTopic,
  DLQ_HEADERS,
  DLQ_REASONS,
  ensureTopics,
  KafkaClient,
  kafkajsSecurity,
  kafkaSecurityFromSettings,
  PoisonMessageError,
  TransientError,
  type BatchConsumer,
  type TopicDef,
} from '../src';

const infra = infraFromEnv();
// 'error': the retries and DLQ sends these tests provoke on purpose would flood the output as warnings.
const logger = createLogger({ service: 'kafka-test', level: 'error' });
const kafka = new Kafka({
  clientId: 'kafka-test-admin',
  brokers: infra.kafkaBrokers,
  logLevel: logLevel.NOTHING,
});

function testTopic(prefix: string): TopicDef<events.MessageAccepted> {
  // One partition: the ordering and "messages after the poison one" claims are about a single partition.
  return defineTopic({
    name: uniqueName(prefix),
    codec: events.MessageAccepted,
    key: (v) => v.message?.messageId ?? '',
    partitions: 1,
  });
}

const accepted = (id: string): events.MessageAccepted => ({
  message: events.SmsMessage.fromPartial({
    messageId: id,
    tenantId: 'tenant-a',
    to: '+6591234567',
    segments: 1,
  }),
});

/** Reads every record of a topic from the start with a plain kafkajs consumer (not our wrapper). */
async function readAll(topic: string, expected: number) {
  const records: { value: Buffer | null; headers: IHeaders }[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('reader'), maxWaitTimeInMs: 200 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      records.push({ value: message.value, headers: message.headers ?? {} });
    },
  });
  try {
    await waitFor(`${expected} records on ${topic}`, () => records.length >= expected);
  } finally {
    await consumer.disconnect();
  }
  return records;
}

describe('kafka wrapper against a real broker', () => {
  const clientOptions = { brokers: infra.kafkaBrokers, clientId: 'kafka-test', logger };
  const client = new KafkaClient(clientOptions);
  const consumers: BatchConsumer[] = [];
  const startConsumer = async (consumer: BatchConsumer) => {
    consumers.push(consumer);
    await consumer.start();
    await waitFor('consumer to join its group', () => consumer.health().ready);
  };

  beforeAll(async () => {
    startTelemetry({ serviceName: 'kafka-test' });
    await client.producer().connect();
  });

  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await client.disconnect();
    await stopTelemetry();
  });

  it('makes topics and their DLQs with the durability asked for, keeping a state topic compacted', async () => {
    const work = testTopic('durable');
    const state = { ...testTopic('durable-state'), compacted: true };
    await ensureTopics(kafka, [work, state], logger, { minInsyncReplicas: 1 });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const described = await admin.describeConfigs({
        includeSynonyms: false,
        resources: [work.name, work.dlq, state.name].map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: ['min.insync.replicas', 'cleanup.policy'],
        })),
      });
      const settings = Object.fromEntries(
        described.resources.map((r) => [
          r.resourceName,
          Object.fromEntries(r.configEntries.map((e) => [e.configName, e.configValue])),
        ]),
      );
      expect(settings).toEqual({
        [work.name]: { 'min.insync.replicas': '1', 'cleanup.policy': 'delete' },
        [work.dlq]: { 'min.insync.replicas': '1', 'cleanup.policy': 'delete' },
        [state.name]: { 'min.insync.replicas': '1', 'cleanup.policy': 'compact' },
      });
      const sources = described.resources.flatMap((r) =>
        r.configEntries.filter((e) => e.configName === 'min.insync.replicas').map((e) => e.isDefault),
      );
      // Set on each topic, not the broker's default showing through.
      expect(sources).toEqual([false, false, false]);
    } finally {
      await admin.disconnect();
    }
  });

  it('delivers a protobuf event to other consumer groups with its trace id intact', async () => {
    const topic = testTopic('trace');
    await ensureTopics(kafka, [topic], logger);
    const seen: Record<string, { traceId?: string; value: events.MessageAccepted }> = {};
    for (const group of ['risk-like', 'audit-like']) {
      await startConsumer(
        client.consumer({ groupId: uniqueName(group), fromBeginning: true }).on(topic, async (record) => {
          seen[group] = { traceId: activeTraceId(), value: record.value };
        }),
      );
    }

    const span = trace.getTracer('test').startSpan('api call');
    expect(span.spanContext().traceId).toMatch(/^(?!0{32})[0-9a-f]{32}$/); // tracing is really on
    await context.with(trace.setSpan(context.active(), span), () =>
      client.producer().send(topic, [accepted('m-trace')]),
    );
    span.end();

    await waitFor('both groups to consume', () => Object.keys(seen).length === 2);
    for (const group of ['risk-like', 'audit-like']) {
      expect(seen[group]?.value).toEqual(accepted('m-trace'));
      expect(seen[group]?.traceId).toBe(span.spanContext().traceId);
    }
  });

  it('keeps platforms that share a cluster apart: each namespace reads, writes and dead-letters its own', async () => {
    const topic = testTopic('shared');
    const platforms = ['ns-a', 'ns-b'].map((ns) => {
      const namespace = uniqueName(ns);
      return { namespace, client: new KafkaClient({ ...clientOptions, topicNamespace: namespace }) };
    });
    const seen: Record<string, string[]> = {};
    const group = uniqueName('shared');
    for (const { namespace, client: platform } of platforms) {
      seen[namespace] = [];
      await ensureTopics(kafka, [platform.topic(topic)], logger);
      await platform.producer().connect();
      await startConsumer(
        platform
          // The same group name in both: each namespace has groups of its own.
          .consumer({ groupId: group, fromBeginning: true, maxHandlerAttempts: 1 })
          .on(topic, async (record) => {
            const id = record.value.message?.messageId ?? '';
            if (id.endsWith('poison')) throw new PoisonMessageError('UNKNOWN_TENANT', 'refused');
            seen[namespace]!.push(id);
          }),
      );
      await platform.producer().send(topic, [accepted(`${namespace}-1`), accepted(`${namespace}-poison`)]);
    }
    try {
      for (const { namespace } of platforms) {
        await waitFor(`${namespace}'s record`, () => seen[namespace]!.length === 1);
        expect(seen[namespace]).toEqual([`${namespace}-1`]);
        const [dead] = await readAll(`${namespace}.${topic.dlq}`, 1);
        expect(events.MessageAccepted.decode(dead!.value!).message?.messageId).toBe(`${namespace}-poison`);
        expect(String(dead!.headers[DLQ_HEADERS.sourceTopic])).toBe(`${namespace}.${topic.name}`);
        expect(String(dead!.headers[DLQ_HEADERS.consumerGroup])).toBe(`${namespace}.${group}`);
      }
      // Nothing was written under the bare name.
      const admin = kafka.admin();
      await admin.connect();
      expect(await admin.listTopics()).not.toContain(topic.name);
      await admin.disconnect();
    } finally {
      await Promise.all(platforms.map(({ client: platform }) => platform.disconnect()));
    }
  });

  it('startAt: reads only what was written from that time, and says when it has caught up', async () => {
    const topic = testTopic('start-at');
    await ensureTopics(kafka, [topic], logger);
    await client.producer().send(topic, [accepted('m-old-1'), accepted('m-old-2')]);
    // Broker timestamps are in milliseconds: a pause keeps the old records strictly before `from`.
    await new Promise((r) => setTimeout(r, 50));
    const from = Date.now();
    await new Promise((r) => setTimeout(r, 50));
    await client.producer().send(topic, [accepted('m-recent-1'), accepted('m-recent-2')]);
    const seen: string[] = [];
    const consumer = client
      .consumer({ groupId: uniqueName('start-at'), startAt: () => from })
      .on(topic, async (record) => {
        seen.push(record.value.message?.messageId ?? '');
      });
    let caughtUp = false;
    void consumer.caughtUp().then(() => (caughtUp = true));
    await startConsumer(consumer);
    await waitFor('the backlog from `from` to be read', () => caughtUp);
    expect(seen).toEqual(['m-recent-1', 'm-recent-2']);
    await client.producer().send(topic, [accepted('m-new')]);
    await waitFor('a record written after start', () => seen.length === 3);
    expect(seen[2]).toBe('m-new');
  });

  it('startsWhere: a new group commits where the group it takes over from had, then goes on from its own', async () => {
    const topic = testTopic('starts-where');
    await ensureTopics(kafka, [topic], logger);
    const admin = kafka.admin();
    await admin.connect();
    const committed = async (groupId: string) =>
      Number((await admin.fetchOffsets({ groupId, topics: [topic.name] }))[0]?.partitions[0]?.offset ?? -1);
    const reader = (groupId: string, seen: string[], startsWhere?: string) =>
      client
        .consumer({ groupId, fromBeginning: true, commitIntervalMs: 50, startsWhere })
        .on(topic, async (record) => {
          seen.push(record.value.message?.messageId ?? '');
        });
    const before = uniqueName('before');
    const first = reader(before, []);
    await startConsumer(first);
    await client.producer().send(topic, [accepted('m-1'), accepted('m-2')]);
    await waitFor('the first group past both', async () => (await committed(before)) === 2);
    await first.stop();

    await client.producer().send(topic, [accepted('m-3')]);
    const after = uniqueName('after');
    const seen: string[] = [];
    const second = reader(after, seen, before);
    await startConsumer(second);
    await waitFor('m-3', () => seen.includes('m-3'));
    // Not from the beginning: what the first group had handled is not handled again.
    expect(seen).toEqual(['m-3']);
    await waitFor('its own commit past m-3', async () => (await committed(after)) === 3);
    await second.stop();

    // Its own commits now, ahead of the group it took over from: nothing handled twice.
    await client.producer().send(topic, [accepted('m-4')]);
    await startConsumer(reader(after, seen, before));
    await waitFor('m-4', () => seen.includes('m-4'));
    expect(seen).toEqual(['m-3', 'm-4']);
    await admin.disconnect();
  });

  it('sends poison records to the DLQ with their reason and keeps processing the partition', async () => {
    const topic = testTopic('poison');
    await ensureTopics(kafka, [topic], logger);
    const handled: string[] = [];
    let flakyFailures = 0;
    await startConsumer(
      client
        .consumer({ groupId: uniqueName('poison'), fromBeginning: true, retryDelayMs: 10 })
        .on(topic, async (record) => {
          const id = record.value.message?.messageId ?? '';
          if (id === 'refused')
            throw new PoisonMessageError('UNKNOWN_TENANT', 'tenant is not configured', 'message.tenantId');
          if (id === 'always-broken') throw new Error('handler bug');
          if (id === 'flaky' && flakyFailures++ < 2) throw new TransientError('database unavailable');
          handled.push(id);
        }),
    );

    const producer = client.producer();
    await producer.send(topic, [accepted('m-1')]);
    await producer.sendRaw(topic.name, [
      { key: 'garbage', value: Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]) },
    ]);
    await producer.send(topic, [
      accepted('refused'),
      accepted('m-2'),
      accepted('always-broken'),
      accepted('flaky'),
    ]);
    await producer.sendRaw(topic.name, [
      { key: 'json', value: Buffer.from('{"message":{}}'), headers: { 'content-type': 'application/json' } },
    ]);
    await producer.send(topic, [accepted('m-3')]);

    await waitFor('the records after the poison ones', () => handled.includes('m-3'));
    expect(handled).toEqual(['m-1', 'm-2', 'flaky', 'm-3']);
    expect(flakyFailures).toBe(3); // two transient failures, then success: retried, never dead-lettered

    const dlq = await readAll(topic.dlq, 4);
    const reasons = dlq.map((r) => ({
      reason: r.headers[DLQ_HEADERS.reason]?.toString(),
      error: r.headers[DLQ_HEADERS.error]?.toString(),
      field: r.headers[DLQ_HEADERS.field]?.toString(),
      source: r.headers[DLQ_HEADERS.sourceTopic]?.toString(),
    }));
    expect(reasons).toEqual([
      {
        reason: DLQ_REASONS.decode,
        error: expect.stringMatching(/^invalid protobuf/),
        field: undefined,
        source: topic.name,
      },
      {
        reason: 'UNKNOWN_TENANT',
        error: 'tenant is not configured',
        field: 'message.tenantId',
        source: topic.name,
      },
      { reason: DLQ_REASONS.handler, error: 'handler bug', field: undefined, source: topic.name },
      {
        reason: DLQ_REASONS.decode,
        error: 'JSON values are not accepted on this topic',
        field: undefined,
        source: topic.name,
      },
    ]);
    // The DLQ keeps the original bytes, so a fixed consumer can replay them.
    expect(dlq[0]?.value).toEqual(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f]));
    expect(dlq[1]?.value).toEqual(encodeMessage(events.MessageAccepted, accepted('refused')));
  });

  it('with concurrency, runs records side by side but commits only past the finished prefix; lag and committedPast say so', async () => {
    const topic = testTopic('concurrent');
    await ensureTopics(kafka, [topic], logger);
    const groupId = uniqueName('concurrent');
    let running = 0;
    let maxRunning = 0;
    const handled = new Set<string>();
    let releaseSlow: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
    const consumer = client
      .consumer({ groupId, fromBeginning: true, concurrency: 8, commitIntervalMs: 50 })
      .on(topic, async (record) => {
        const id = record.value.message?.messageId ?? '';
        running++;
        maxRunning = Math.max(maxRunning, running);
        if (id === 'm-3') await slow;
        else await new Promise((r) => setTimeout(r, 20));
        handled.add(id);
        running--;
      });
    await startConsumer(consumer);
    await client.producer().send(
      topic,
      Array.from({ length: 40 }, (_, i) => accepted(`m-${i}`)),
    );
    const written = Date.now() + 1;
    await waitFor('every record but the slow one', () => handled.size === 39);
    expect(maxRunning).toBe(8);
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () =>
      Number((await admin.fetchOffsets({ groupId, topics: [topic.name] }))[0]?.partitions[0]?.offset ?? -1);
    // Records 4..39 are done, but m-3 is not: nothing past it may be committed.
    await new Promise((r) => setTimeout(r, 300));
    expect(await committed()).toBeLessThanOrEqual(3);
    const lagged = (await consumer.lag()).filter((l) => l.topic === topic.name);
    expect(lagged).toEqual([
      { group: groupId, topic: topic.name, partition: 0, records: 40 - (await committed()) },
    ]);
    expect(lagged[0]!.records).toBeGreaterThanOrEqual(37);
    expect(await consumer.committedPast(topic, written)).toBe(false);
    releaseSlow();
    await waitFor('the commit past the whole batch', async () => (await committed()) === 40);
    expect((await consumer.lag()).map((l) => l.records)).toEqual([0]);
    expect(await consumer.committedPast(topic, written)).toBe(true);
    await admin.disconnect();
  });

  it('only: handles the records whose headers pass, passes over the rest undecoded, says so, and commits past them all', async () => {
    // A topic whose headers say which tenant a record is for, as sms.status says its status.
    const topic = defineTopic({
      ...testTopic('only'),
      headers: (v: events.MessageAccepted) => ({ 'x-tenant': v.message?.tenantId ?? '' }),
    });
    await ensureTopics(kafka, [topic], logger);
    const groupId = uniqueName('only');
    const handled: string[] = [];
    let passedOverBatches = 0;
    await startConsumer(
      client
        .consumer({ groupId, fromBeginning: true, commitIntervalMs: 50 })
        .on(topic, async (record) => void handled.push(record.value.message?.messageId ?? ''), {
          only: (header) => header('x-tenant') !== 'tenant-b',
          passedOver: () => passedOverBatches++,
        }),
    );
    const forB = (id: string) => ({ message: { ...accepted(id).message!, tenantId: 'tenant-b' } });
    await client.producer().send(topic, [accepted('a-1'), forB('b-1'), forB('b-2'), accepted('a-2')]);
    // Bytes that are no MessageAccepted at all, under a header that passes them over: never decoded, so
    // never dead-lettered. Without the header, a record is the handler's (a producer that writes none).
    await client.producer().sendRaw(topic.name, [
      { key: 'x', value: Buffer.from([0xff, 0xff, 0xff]), headers: { 'x-tenant': 'tenant-b' } },
      { key: 'a-3', value: encodeMessage(events.MessageAccepted, accepted('a-3')) },
    ]);
    await waitFor('the records for tenant a', () => handled.length === 3);
    expect(handled).toEqual(['a-1', 'a-2', 'a-3']);
    // Told once per fetched batch that passed some over (three passed over, in one to three batches)...
    expect(passedOverBatches).toBeGreaterThanOrEqual(1);
    expect(passedOverBatches).toBeLessThanOrEqual(3);
    // ...and not for a batch it handles whole.
    const before = passedOverBatches;
    await client.producer().send(topic, [accepted('a-4')]);
    await waitFor('the next record for tenant a', () => handled.length === 4);
    expect(passedOverBatches).toBe(before);
    const admin = kafka.admin();
    await admin.connect();
    await waitFor(
      'the commit past every record',
      async () =>
        Number((await admin.fetchOffsets({ groupId, topics: [topic.name] }))[0]?.partitions[0]?.offset) === 7,
    );
    // Nothing was dead-lettered: the undecodable record was never looked at.
    expect((await admin.fetchTopicOffsets(topic.dlq)).map((p) => p.high)).toEqual(['0']);
    await admin.disconnect();
    // The three passed over are counted as such, however many batches they came in.
    const counted = await metricsRegistry.getSingleMetricAsString('tern_kafka_consumed_total');
    expect(counted).toContain(
      `tern_kafka_consumed_total{topic="${topic.name}",group="${groupId}",outcome="skipped"} 3`,
    );
  });

  it('gatherMs: records written a few milliseconds apart reach a gathering group in a batch or two, a plain one one by one', async () => {
    const topic = testTopic('gather');
    await ensureTopics(kafka, [topic], logger);
    const groups = { gathering: uniqueName('gathering'), plain: uniqueName('plain') };
    const handled = { gathering: [] as string[], plain: [] as string[] };
    for (const kind of ['gathering', 'plain'] as const) {
      await startConsumer(
        client
          .consumer({ groupId: groups[kind], gatherMs: kind === 'gathering' ? 1500 : undefined })
          .on(topic, async (record) => void handled[kind].push(record.value.message?.messageId ?? '')),
      );
    }
    // Written after both joined (they start at the end of the topic): 20 records 20 ms apart, 0.4 s in all.
    const ids = Array.from({ length: 20 }, (_, i) => `gathered-${i}`);
    for (const id of ids) {
      await client.producer().send(topic, [accepted(id)]);
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor('both groups to handle every record', () =>
      Object.values(handled).every((seen) => seen.length === ids.length),
    );
    expect(handled).toEqual({ gathering: ids, plain: ids });
    const exposed = await metricsRegistry.getSingleMetricAsString('tern_kafka_batch_size');
    const batchesOf = (group: string) =>
      Number(
        new RegExp(`tern_kafka_batch_size_count\\{[^}]*group="${group}"[^}]*\\} (\\d+)`).exec(exposed)?.[1],
      );
    // A gathering group takes the first record at once, then fetches again 1.5 s later: the 0.4 s of writes
    // span two batches at most.
    expect(batchesOf(groups.gathering)).toBeLessThanOrEqual(2);
    // A plain fetch returns with the first record it finds: 20 ms apart, nearly every record is a batch.
    expect(batchesOf(groups.plain)).toBeGreaterThanOrEqual(10);
  });

  it('tern_kafka_record_age_seconds and tern_kafka_handle_seconds: the wait for a handler, and its work, per group', async () => {
    const topic = testTopic('age');
    await ensureTopics(kafka, [topic], logger);
    const groups = { gathering: uniqueName('aged'), plain: uniqueName('fresh') };
    const handled = { gathering: 0, plain: 0 };
    for (const kind of ['gathering', 'plain'] as const) {
      await startConsumer(
        client
          .consumer({ groupId: groups[kind], gatherMs: kind === 'gathering' ? 3000 : undefined })
          .on(topic, async () => {
            // The plain group's handler works 300 ms a record, the gathering group's at once.
            if (kind === 'plain') await new Promise((r) => setTimeout(r, 300));
            handled[kind]++;
          }),
      );
    }
    // The gathering group takes the first at once, then waits 3 s to fetch again: the second, written
    // 0.2 s after the first, waits over 2 s; the plain group takes each as it comes (the second 0.1 s late).
    await client.producer().send(topic, [accepted('aged-1')]);
    await new Promise((r) => setTimeout(r, 200));
    await client.producer().send(topic, [accepted('aged-2')]);
    await waitFor('both groups to handle both records', () => handled.gathering === 2 && handled.plain === 2);
    const exposed =
      (await metricsRegistry.getSingleMetricAsString('tern_kafka_record_age_seconds')) +
      (await metricsRegistry.getSingleMetricAsString('tern_kafka_handle_seconds'));
    // One series of the group's (and of the bucket `le`, for buckets), in whatever order its labels come.
    const series = (name: string, group: string, le?: string) =>
      Number(
        new RegExp(
          `tern_kafka_${name}\\{(?=[^}]*group="${group}")${le ? `(?=[^}]*le="${le}")` : ''}[^}]*\\} ([\\d.]+)`,
        ).exec(exposed)?.[1],
      );
    expect(series('record_age_seconds_count', groups.gathering)).toBe(2);
    expect(series('record_age_seconds_sum', groups.gathering)).toBeGreaterThanOrEqual(2);
    expect(series('record_age_seconds_bucket', groups.gathering, '1')).toBeLessThanOrEqual(1);
    expect(series('record_age_seconds_count', groups.plain)).toBe(2);
    expect(series('record_age_seconds_bucket', groups.plain, '1')).toBe(2);
    // A call per record: the plain group's took 300 ms each, the gathering group's far less.
    expect(series('handle_seconds_count', groups.plain)).toBe(2);
    expect(series('handle_seconds_bucket', groups.plain, '0.25')).toBe(0);
    expect(series('handle_seconds_bucket', groups.gathering, '0.25')).toBe(2);
  });

  it('produceLingerMs: values enqueued a few milliseconds apart share a produce request; without, each goes at once', async () => {
    const topic = testTopic('linger');
    await ensureTopics(kafka, [topic], logger);
    const requests = async () =>
      Number(
        /tern_kafka_produce_request_records_count (\d+)/.exec(
          await metricsRegistry.getSingleMetricAsString('tern_kafka_produce_request_records'),
        )?.[1] ?? 0,
      );
    // 20 values 20 ms apart (0.4 s in all), each awaited only at the end, by a producer of its own.
    const requestsToWrite = async (client: KafkaClient, name: string) => {
      const before = await requests();
      const written: Promise<void>[] = [];
      for (let i = 0; i < 20; i++) {
        written.push(client.producer().enqueue(topic, accepted(`${name}-${i}`)));
        await new Promise((r) => setTimeout(r, 20));
      }
      await Promise.all(written);
      return (await requests()) - before;
    };
    const lingering = new KafkaClient({ ...clientOptions, produceLingerMs: 2000 });
    const plain = new KafkaClient(clientOptions);
    try {
      await Promise.all([lingering.producer().connect(), plain.producer().connect()]);
      // The first value waits 2 s for company: the other 19 come within it.
      expect(await requestsToWrite(lingering, 'lingering')).toBe(1);
      // Alone, a value goes as soon as no request is in flight: nearly every one in a request of its own.
      expect(await requestsToWrite(plain, 'plain')).toBeGreaterThanOrEqual(10);
    } finally {
      await Promise.all([lingering.disconnect(), plain.disconnect()]);
    }
  });

  it("enqueue: values that together pass the broker's limit on a batch go in several requests, every one written", async () => {
    const topic = testTopic('large');
    await ensureTopics(kafka, [topic], logger);
    // 400 values of about 5 KB on one partition, enqueued at once: 2 MB, twice the broker's 1 MiB a batch.
    const body = 'x'.repeat(5000);
    const values = Array.from({ length: 400 }, (_, i) => {
      const value = accepted(`large-${i}`);
      value.message!.body = body;
      return value;
    });
    const requests = async () =>
      Number(
        /tern_kafka_produce_request_records_count (\d+)/.exec(
          await metricsRegistry.getSingleMetricAsString('tern_kafka_produce_request_records'),
        )?.[1] ?? 0,
      );
    const before = await requests();
    await Promise.all(values.map((v) => client.producer().enqueue(topic, v)));
    expect((await requests()) - before).toBeGreaterThanOrEqual(3);
    const seen = new Set<string>();
    await startConsumer(
      client.consumer({ groupId: uniqueName('large'), fromBeginning: true }).on(topic, async ({ value }) => {
        seen.add(value.message!.messageId);
      }),
    );
    await waitFor('every value read back', () => seen.size === values.length);
  });

  it('tern_kafka_requests_total: the requests the consumers and producers sent, per API', async () => {
    const topic = testTopic('requests');
    await ensureTopics(kafka, [topic], logger);
    const sent = async () => {
      const text = await metricsRegistry.getSingleMetricAsString('tern_kafka_requests_total');
      return (api: string) => Number(new RegExp(`\\{api="${api}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    };
    let handled = 0;
    await startConsumer(
      client.consumer({ groupId: uniqueName('requests') }).on(topic, async () => void handled++),
    );
    const before = await sent();
    await client.producer().send(topic, [accepted('requests-1')]);
    await client.producer().send(topic, [accepted('requests-2')]);
    await waitFor('both records to be handled', () => handled === 2);
    // Committed within the commit timer's second; a request is counted once answered.
    await waitFor(
      'the progress to be committed',
      async () => (await sent())('OffsetCommit') > before('OffsetCommit'),
    );
    const after = await sent();
    expect(after('Produce') - before('Produce')).toBeGreaterThanOrEqual(2);
    expect(after('Fetch')).toBeGreaterThan(before('Fetch'));
  });

  it('passedOverGatherMs: a group that passes over what it reads wakes once per wait, and fetches at once again when its own records come', async () => {
    const topic = defineTopic({
      ...testTopic('passed-over'),
      headers: (v: events.MessageAccepted) => ({ 'x-tenant': v.message?.tenantId ?? '' }),
    });
    await ensureTopics(kafka, [topic], logger);
    const groups = { waiting: uniqueName('passed-over-waiting'), plain: uniqueName('passed-over-plain') };
    const handled = { waiting: [] as string[], plain: [] as string[] };
    for (const kind of ['waiting', 'plain'] as const) {
      await startConsumer(
        client
          .consumer({ groupId: groups[kind], passedOverGatherMs: kind === 'waiting' ? 1500 : undefined })
          .on(topic, async (record) => void handled[kind].push(record.value.message?.messageId ?? ''), {
            only: (header) => header('x-tenant') !== 'tenant-b',
          }),
      );
    }
    const batchesOf = async (group: string) =>
      Number(
        new RegExp(`tern_kafka_batch_size_count\\{[^}]*group="${group}"[^}]*\\} (\\d+)`).exec(
          await metricsRegistry.getSingleMetricAsString('tern_kafka_batch_size'),
        )?.[1] ?? 0,
      );
    const writeApart = async (ids: string[], tenantId: string) => {
      for (const id of ids) {
        await client.producer().send(topic, [{ message: { ...accepted(id).message!, tenantId } }]);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Another tenant's records, 20 ms apart over 0.4 s: the waiting group fetches again 1.5 s after the first.
    await writeApart(
      Array.from({ length: 20 }, (_, i) => `other-${i}`),
      'tenant-b',
    );
    await waitFor('the plain group to pass over them all', async () => (await batchesOf(groups.plain)) >= 10);
    expect(await batchesOf(groups.waiting)).toBeLessThanOrEqual(2);
    // A record of its own is taken after that wait at most; from then on each fetch returns at once.
    await writeApart(['own-0'], 'tenant-a');
    await waitFor('both groups to handle their first record', () =>
      Object.values(handled).every((seen) => seen.length === 1),
    );
    const before = await batchesOf(groups.waiting);
    const own = Array.from({ length: 10 }, (_, i) => `own-${i + 1}`);
    await writeApart(own, 'tenant-a');
    await waitFor('both groups to handle every record of theirs', () =>
      Object.values(handled).every((seen) => seen.length === 11),
    );
    expect(handled).toEqual({ waiting: ['own-0', ...own], plain: ['own-0', ...own] });
    // 10 records 20 ms apart: with a 1.5 s wait still on, they would come in one or two batches.
    expect((await batchesOf(groups.waiting)) - before).toBeGreaterThanOrEqual(5);
  });

  it('an idle client sets no timer every millisecond (kafkajs#1556, patched in patches/)', async () => {
    // Upstream kafkajs re-armed a 1 ms "pending requests" check on every connection for as long as it lived:
    // about a thousand timers a second per connection. Here the connected producer (and the consumers the
    // tests above started) sit idle for a second; what they set is counted as the timers created.
    let timers = 0;
    const hook = createHook({ init: (_id, type) => void (type === 'Timeout' && timers++) }).enable();
    await new Promise((r) => setTimeout(r, 1000));
    hook.disable();
    // Heartbeats, fetch waits and request timeouts: tens a second. The spinning checks alone made thousands.
    expect(timers).toBeLessThan(200);
  });

  it('a record that waits holds up no other: later batches of its partition and other topics go on', async () => {
    const [slowTopic, otherTopic] = [testTopic('waiting'), testTopic('waiting-other')];
    await ensureTopics(kafka, [slowTopic, otherTopic], logger);
    const groupId = uniqueName('waiting');
    const handled = new Set<string>();
    let releaseSlow: () => void = () => undefined;
    const slow = new Promise<void>((resolve) => (releaseSlow = resolve));
    const handler = async (record: { value: events.MessageAccepted }) => {
      const id = record.value.message?.messageId ?? '';
      if (id === 'slow') await slow;
      handled.add(id);
    };
    await startConsumer(
      client
        .consumer({ groupId, fromBeginning: true, concurrency: 50, commitIntervalMs: 50 })
        .on(slowTopic, handler)
        .on(otherTopic, handler),
    );
    const producer = client.producer();
    await producer.send(slowTopic, [accepted('before'), accepted('slow')]);
    await waitFor('the record before the slow one', () => handled.has('before'));
    // Fetched after the slow record started, while it waits: the same partition, and another topic.
    await producer.send(slowTopic, [accepted('after-1'), accepted('after-2')]);
    await producer.send(otherTopic, [accepted('elsewhere')]);
    await waitFor('the records sent after the slow one', () =>
      ['after-1', 'after-2', 'elsewhere'].every((id) => handled.has(id)),
    );
    expect(handled.has('slow')).toBe(false);
    const admin = kafka.admin();
    await admin.connect();
    const committed = async () =>
      Number(
        (await admin.fetchOffsets({ groupId, topics: [slowTopic.name] }))[0]?.partitions[0]?.offset ?? -1,
      );
    // Done: 'before' (0), 'after-1' and 'after-2' (2, 3); not 'slow' (1): the commit stops before it.
    await waitFor('the commit up to the slow record', async () => (await committed()) === 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(await committed()).toBe(1);
    releaseSlow();
    await waitFor('the commit past every record', async () => (await committed()) === 4);
    await admin.disconnect();
  });

  it('onBatch: a fetch in calls of maxRecords; a transient failure retries the call, any other hands its records over one by one', async () => {
    const topic = testTopic('batch');
    await ensureTopics(kafka, [topic], logger);
    const groupId = uniqueName('batch');
    // Record i is numbered i (segments); records i and i + 25 share a key, so keyOrdered makes the second
    // call wait for the first.
    const written = Array.from({ length: 40 }, (_, i) => {
      const value = accepted(i === 10 ? 'refused' : `k-${i % 25}`);
      return { ...value, message: { ...value.message!, segments: i } };
    });
    // Written before the group starts: its first fetch holds them all.
    await client.producer().send(topic, written);
    const calls: number[][] = [];
    const handled = new Set<number>();
    let transientFailures = 0;
    let running = 0;
    let maxRunning = 0;
    const consumer = client
      .consumer({
        groupId,
        fromBeginning: true,
        retryDelayMs: 10,
        concurrency: 8,
        keyOrdered: true,
        commitIntervalMs: 50,
      })
      .onBatch(
        topic,
        async (records) => {
          const batch = records.map((r) => r.value.message?.segments ?? -1);
          calls.push(batch);
          running++;
          maxRunning = Math.max(maxRunning, running);
          await new Promise((r) => setTimeout(r, 20));
          running--;
          if (transientFailures++ === 0) throw new TransientError('store unavailable');
          if (records.some((r) => r.value.message?.messageId === 'refused'))
            throw new PoisonMessageError('UNKNOWN_TENANT', 'tenant is not configured');
          for (const n of batch) handled.add(n);
        },
        { maxRecords: 25 },
      );
    await startConsumer(consumer);
    await waitFor('every record but the refused one', () => handled.size === 39);
    const first = Array.from({ length: 25 }, (_, i) => i);
    expect(calls[0]).toEqual(first); // failed transiently
    expect(calls[1]).toEqual(first); // retried whole, failed on the poison record
    expect(calls.slice(2, 27)).toEqual(first.map((n) => [n])); // one by one
    expect(calls[27]).toEqual(Array.from({ length: 15 }, (_, i) => 25 + i)); // after them: same keys
    expect(calls).toHaveLength(28);
    expect(maxRunning).toBe(1);
    const dlq = await readAll(topic.dlq, 1);
    expect(dlq.map((r) => r.headers[DLQ_HEADERS.reason]?.toString())).toEqual(['UNKNOWN_TENANT']);
    expect(dlq[0]?.value).toEqual(encodeMessage(events.MessageAccepted, written[10]!));
    await waitFor('the commit past every record', async () =>
      (await consumer.lag()).every((l) => l.records === 0),
    );
  });

  it('onBatch with keyOrdered: calls without a key in common run side by side', async () => {
    const topic = testTopic('batch-keys');
    await ensureTopics(kafka, [topic], logger);
    await client.producer().send(
      topic,
      Array.from({ length: 40 }, (_, i) => accepted(`d-${i}`)),
    );
    const calls: number[] = [];
    let running = 0;
    let maxRunning = 0;
    await startConsumer(
      client
        .consumer({
          groupId: uniqueName('batch-keys'),
          fromBeginning: true,
          concurrency: 8,
          keyOrdered: true,
        })
        .onBatch(
          topic,
          async (records) => {
            running++;
            maxRunning = Math.max(maxRunning, running);
            await new Promise((r) => setTimeout(r, 100));
            running--;
            calls.push(records.length);
          },
          { maxRecords: 20 },
        ),
    );
    await waitFor('both calls', () => calls.length === 2);
    expect(calls).toEqual([20, 20]);
    expect(maxRunning).toBe(2);
  });

  it("onBatch: a fetch's partitions in one call; when it fails, each partition's records alone decide, and only the poison record is dead-lettered", async () => {
    const topic = { ...testTopic('batch-joined'), partitions: 3 };
    await ensureTopics(kafka, [topic], logger);
    // Written before the group starts: its first fetch holds every partition's records.
    await client.producer().send(
      topic,
      Array.from({ length: 30 }, (_, i) => accepted(i === 7 ? 'refused' : `j-${i}`)),
    );
    const calls: { partitions: Set<number>; records: number }[] = [];
    const handled = new Set<string>();
    const consumer = client
      .consumer({
        groupId: uniqueName('batch-joined'),
        fromBeginning: true,
        retryDelayMs: 10,
        partitionsInParallel: 3,
        commitIntervalMs: 50,
      })
      .onBatch(topic, async (records) => {
        calls.push({ partitions: new Set(records.map((r) => r.partition)), records: records.length });
        if (records.some((r) => r.value.message?.messageId === 'refused'))
          throw new PoisonMessageError('UNKNOWN_TENANT', 'tenant is not configured');
        for (const r of records) handled.add(r.value.message!.messageId);
      });
    await startConsumer(consumer);
    await waitFor('the commit past every record', async () =>
      (await consumer.lag()).every((l) => l.records === 0),
    );
    expect(handled.size).toBe(29);
    expect(handled.has('refused')).toBe(false);
    // One call for the whole fetch, across the three partitions...
    expect(calls[0]).toEqual({ partitions: new Set([0, 1, 2]), records: 30 });
    // ...then, once it failed, each partition's call alone, and the poison partition's records one by one.
    const later = calls.slice(1);
    expect(later.every((c) => c.partitions.size === 1)).toBe(true);
    expect(later.filter((c) => c.records > 1)).toHaveLength(3);
    const admin = kafka.admin();
    await admin.connect();
    const dlqEnds = await admin.fetchTopicOffsets(topic.dlq);
    await admin.disconnect();
    expect(dlqEnds.reduce((sum, p) => sum + Number(p.high), 0)).toBe(1);
    const dlq = await readAll(topic.dlq, 1);
    expect(dlq.map((r) => r.headers[DLQ_HEADERS.reason]?.toString())).toEqual(['UNKNOWN_TENANT']);
  });

  it('keyOrdered: records of one key in order, different keys side by side', async () => {
    const topic = testTopic('key-ordered');
    await ensureTopics(kafka, [topic], logger);
    const seen = new Map<string, number[]>();
    let running = 0;
    let maxRunning = 0;
    let total = 0;
    await startConsumer(
      client
        .consumer({
          groupId: uniqueName('key-ordered'),
          fromBeginning: true,
          concurrency: 8,
          keyOrdered: true,
        })
        .on(topic, async (record) => {
          const key = record.value.message?.messageId ?? '';
          running++;
          maxRunning = Math.max(maxRunning, running);
          // Later records of a key finish faster: without ordering they would overtake earlier ones.
          const sequence = record.value.message?.segments ?? 0;
          await new Promise((r) => setTimeout(r, 40 - sequence * 3));
          seen.set(key, [...(seen.get(key) ?? []), sequence]);
          running--;
          total++;
        }),
    );
    const records = Array.from({ length: 30 }, (_, i) => {
      const value = accepted(`k-${i % 3}`);
      return { ...value, message: { ...value.message!, segments: Math.floor(i / 3) } };
    });
    await client.producer().send(topic, records);
    await waitFor('every record', () => total === 30);
    for (const key of ['k-0', 'k-1', 'k-2']) expect(seen.get(key)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(maxRunning).toBe(3);
  });

  describe('a consumer process', () => {
    const fixture = join(__dirname, 'fixtures', 'record-consumer.ts');
    const work = mkdtempSync(join(tmpdir(), 'tern-kafka-'));
    const children: ChildProcess[] = [];
    afterAll(() => children.forEach((c) => c.kill('SIGKILL')));

    function run(env: Record<string, string>): ChildProcess {
      const child = spawn(process.execPath, ['--conditions=tern-source', '--import', 'tsx', fixture], {
        // From the package folder, so `--import tsx` finds this package's own tsx.
        cwd: join(__dirname, '..'),
        env: { ...process.env, TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','), ...env },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.push(child);
      return child;
    }
    const lines = (file: string) =>
      existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
    const exited = (child: ChildProcess) =>
      new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

    async function produce(topic: TopicDef<events.MessageAccepted>, count: number) {
      const ids = Array.from({ length: count }, (_, i) => `m-${i}`);
      await client.producer().send(topic, ids.map(accepted));
      return ids;
    }

    it('killed mid-batch and restarted, loses nothing', async () => {
      const topic = testTopic('crash');
      await ensureTopics(kafka, [topic], logger);
      const ids = await produce(topic, 400);
      const out = join(work, 'crash.txt');
      const env = { TOPIC: topic.name, GROUP: uniqueName('crash'), OUT_FILE: out, HANDLE_MS: '5' };

      const first = run(env);
      await waitFor('the first process to handle some records', () => lines(out).length >= 150, 60_000, 5);
      first.kill('SIGKILL');
      await exited(first);
      const handledBeforeKill = lines(out).length;
      expect(handledBeforeKill).toBeLessThan(ids.length); // it really died mid-way

      run(env);
      await waitFor('every record to be handled', () => new Set(lines(out)).size === ids.length, 60_000);
      expect(new Set(lines(out))).toEqual(new Set(ids));
      // At least once, and progress was committed inside the batch: only the records handled since the last
      // commit (at most commitEveryRecords, 100 by default) are handled twice, not the whole batch again.
      const duplicates = lines(out).length - ids.length;
      expect(duplicates).toBeLessThanOrEqual(100);
      expect(duplicates).toBeLessThan(handledBeforeKill);
    });

    it('on SIGTERM finishes the record in hand, commits, leaves the group and exits 0', async () => {
      const topic = testTopic('sigterm');
      await ensureTopics(kafka, [topic], logger);
      const ids = await produce(topic, 300);
      const out = join(work, 'sigterm.txt');
      const env = { TOPIC: topic.name, GROUP: uniqueName('sigterm'), OUT_FILE: out, HANDLE_MS: '5' };

      const first = run(env);
      await waitFor('the first process to handle some records', () => lines(out).length >= 50, 60_000, 20);
      first.kill('SIGTERM');
      expect(await exited(first)).toBe(0);
      const handledBeforeStop = lines(out).length;
      expect(handledBeforeStop).toBeLessThan(ids.length);

      const second = run(env);
      await waitFor('every record to be handled', () => new Set(lines(out)).size === ids.length, 60_000);
      second.kill('SIGTERM');
      expect(await exited(second)).toBe(0);
      // Everything handled before the stop was committed: the restart handles each remaining record once.
      expect(lines(out)).toEqual(ids);
    });
  });
});

describe('a client of a TLS + SASL listener, configured by its settings', () => {
  const secure = {
    brokers: (process.env['TERN_TEST_KAFKA_SECURE_BROKERS'] ?? '').split(','),
    caFile: process.env['TERN_TEST_KAFKA_CA_FILE'] ?? '',
    username: process.env['TERN_TEST_KAFKA_SASL_USERNAME'] ?? '',
    password: process.env['TERN_TEST_KAFKA_SASL_PASSWORD'] ?? '',
  };
  const settings = {
    kafkaTls: commonSettings.kafkaTls,
    kafkaTlsCaFile: commonSettings.kafkaTlsCaFile,
    kafkaSaslMechanism: commonSettings.kafkaSaslMechanism,
    kafkaSaslUsername: commonSettings.kafkaSaslUsername,
    kafkaSaslPassword: commonSettings.kafkaSaslPassword,
  };
  const securityOf = (env: Record<string, string>) => kafkaSecurityFromSettings(loadConfig(settings, env));
  const configured = {
    TERN_KAFKA_TLS: 'true',
    TERN_KAFKA_TLS_CA_FILE: secure.caFile,
    TERN_KAFKA_SASL_MECHANISM: 'plain',
    TERN_KAFKA_SASL_USERNAME: secure.username,
    TERN_KAFKA_SASL_PASSWORD: secure.password,
  };
  const configuredClient = (clientId: string) =>
    new KafkaClient({ brokers: secure.brokers, clientId, logger, security: securityOf(configured) });
  /** Whether a bare kafkajs admin with these options gets the cluster's metadata (no retries). */
  const reaches = async (security: Parameters<typeof kafkajsSecurity>[0]) => {
    const admin = new Kafka({
      clientId: 'kafka-test-secure',
      brokers: secure.brokers,
      ...kafkajsSecurity(security),
      connectionTimeout: 3000,
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin();
    try {
      await admin.connect();
      await admin.describeCluster();
      return true;
    } catch {
      return false;
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  };

  it('produces and consumes through the wrapper over TLS with SASL', async () => {
    expect(secure.brokers[0]).toMatch(/:\d+$/);
    const topic = testTopic('secure');
    await ensureTopics(kafka, [topic], logger);
    const client = configuredClient('kafka-test-secure');
    const seen: string[] = [];
    const consumer = client
      .consumer({ groupId: uniqueName('secure'), fromBeginning: true })
      .on(topic, async (record) => {
        seen.push(record.value.message?.messageId ?? '');
      });
    try {
      await client.producer().connect();
      await client.producer().send(topic, [accepted('m-secure')]);
      await consumer.start();
      await waitFor('the record read back over the secure listener', () => seen.includes('m-secure'));
    } finally {
      await consumer.stop();
      await client.disconnect();
    }
  });

  it('a consumer refused its group crashes where kafkajs gives up, is restarted, and reads once allowed', async () => {
    const topic = testTopic('refused');
    await ensureTopics(kafka, [topic], logger);
    const groupId = uniqueName('refused');
    const denied = {
      resourceType: AclResourceTypes.GROUP,
      resourceName: groupId,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal: `User:${secure.username}`,
      host: '*',
      operation: AclOperationTypes.ALL,
      permissionType: AclPermissionTypes.DENY,
    };
    const admin = kafka.admin();
    // As the user the consumer connects as: to see the ACL in force before the consumer meets it.
    const asUser = new Kafka({
      clientId: 'kafka-test-refused',
      brokers: secure.brokers,
      ...kafkajsSecurity(securityOf(configured)),
      retry: { retries: 0 },
      logLevel: logLevel.NOTHING,
    }).admin();
    const client = configuredClient('kafka-test-refused');
    const seen: string[] = [];
    const consumer = client.consumer({ groupId, fromBeginning: true }).on(topic, async (record) => {
      seen.push(record.value.message?.messageId ?? '');
    });
    try {
      await admin.connect();
      await asUser.connect();
      await admin.createAcls({ acl: [denied] });
      await client.producer().connect();
      await client.producer().send(topic, [accepted('m-refused')]);
      await waitFor('the broker to refuse the group', () =>
        asUser
          .fetchOffsets({ groupId, topics: [topic.name] })
          .then(() => false)
          .catch(() => true),
      );
      await consumer.start();
      // The broker answers GROUP_AUTHORIZATION_FAILED, and kafkajs crashes on "Failed to find group
      // coordinator" (or, rarely, on the refusal itself, met first in another request): an error it does
      // not restart after, as on a broker still loading its offsets.
      const crash = await waitFor('the crash', () => consumer.health().detail);
      expect(crash).toMatch(/group coordinator|Group authorization failed/);
      // Restarted, and refused again: each crash counted for the alert on a group that keeps crashing.
      const crashesOfGroup = async () => {
        const exposed = await metricsRegistry.getSingleMetricAsString('tern_kafka_consumer_crashes_total');
        const line = exposed.split('\n').find((l) => l.includes(`group="${groupId}"`));
        return Number(line?.split(' ').pop() ?? 0);
      };
      await waitFor('a restart refused again', async () => (await crashesOfGroup()) >= 2);
      expect(consumer.health()).toMatchObject({ ready: false, joined: false });
      expect(seen).toEqual([]);
      await admin.deleteAcls({ filters: [denied] });
      await waitFor('the record read once the group is allowed', () => seen.includes('m-refused'));
      expect(consumer.health()).toMatchObject({ ready: true, joined: true });
      expect(consumer.health().detail).toBeUndefined();
    } finally {
      await consumer.stop();
      await admin.deleteAcls({ filters: [denied] }).catch(() => undefined);
      await admin.disconnect();
      await asUser.disconnect();
      await client.disconnect();
    }
  });

  it('is refused without TLS, without SASL, or with a wrong password', async () => {
    expect(await reaches(securityOf(configured))).toBe(true);
    expect(
      await reaches(securityOf({ ...configured, TERN_KAFKA_TLS: 'false', TERN_KAFKA_TLS_CA_FILE: '' })),
    ).toBe(false);
    expect(await reaches(securityOf({ TERN_KAFKA_TLS: 'true', TERN_KAFKA_TLS_CA_FILE: secure.caFile }))).toBe(
      false,
    );
    expect(await reaches(securityOf({ ...configured, TERN_KAFKA_SASL_PASSWORD: 'wrong' }))).toBe(false);
  });

  it('refuses half a setting at start-up', () => {
    expect(() => securityOf({ TERN_KAFKA_SASL_MECHANISM: 'plain' })).toThrow(
      /USERNAME and TERN_KAFKA_SASL_PASSWORD/,
    );
    expect(() => securityOf({ TERN_KAFKA_TLS_CA_FILE: '/ca.pem' })).toThrow(/TERN_KAFKA_TLS=true/);
  });
});
