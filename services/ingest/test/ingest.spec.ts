/* eslint-disable @typescript-eslint/no-unsafe-return, @typescript-eslint/no-unsafe-argument --
   the client is proto-loader's dynamic one on purpose: it knows nothing of Tern's generated types. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  encodeMessage,
  eventSigningInput,
  events,
  signEvent,
  sms,
  type SignedEventKind,
} from '@tern/contracts';
import { DLQ_HEADERS, KafkaClient, topics } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';
import {
  declaredTopicName,
  ensurePlatformTopics,
  infraFromEnv,
  makeTestCertificates,
  startServiceProcess,
  testNamespace,
  testClusterName,
  uniqueName,
  waitFor,
  type ServiceProcess,
} from '@tern/testing';
import { Kafka, logLevel, type Consumer } from 'kafkajs';
import {
  failure,
  healthClient,
  PlainClient,
  reflectionClient,
  tenantsFile,
  type Plain,
  type TestTenant,
} from './client';

const infra = infraFromEnv();
const run = uniqueName('ingest');
const acme: TestTenant = {
  id: `acme-${run.slice(-6)}`,
  apiKey: `key-acme-${run}`,
  eventKeyId: 'ev1',
  eventSecret: `secret-acme-${run}`,
  perSecond: 1000,
  burst: 2000,
};
const globex: TestTenant = {
  ...acme,
  id: `globex-${run.slice(-6)}`,
  apiKey: `key-globex-${run}`,
  eventSecret: `secret-globex-${run}`,
};
/** Holds status streams open up to the cap (TERN_STATUS_STREAMS_PER_TENANT, 3 here). */
const streamer: TestTenant = {
  ...acme,
  id: `streamer-${run.slice(-6)}`,
  apiKey: `key-streamer-${run}`,
};
/** Reads its status both ways, with streams of its own (another test's closing ones are not in its count). */
const batcher: TestTenant = {
  ...acme,
  id: `batcher-${run.slice(-6)}`,
  apiKey: `key-batcher-${run}`,
};
/** Its keys are rotated while ingest runs. */
const rotating: TestTenant = {
  ...acme,
  id: `rotating-${run.slice(-6)}`,
  apiKey: `key-rotating-${run}`,
};
/** A send rate the Kafka intake must hold to. */
const paced: TestTenant = {
  ...acme,
  id: `paced-${run.slice(-6)}`,
  apiKey: `key-paced-${run}`,
  perSecond: 5,
  burst: 5,
};
const slow: TestTenant = {
  ...acme,
  id: `slow-${run.slice(-6)}`,
  apiKey: `key-slow-${run}`,
  perSecond: 0.2,
  burst: 3,
};

const logger = createLogger({ service: 'ingest-test', level: 'warn' });
const kafka = new Kafka({ clientId: run, brokers: infra.kafkaBrokers, logLevel: logLevel.NOTHING });
let service: ServiceProcess;
let client: PlainClient;
let grpcPort: number;
let watcher: Consumer;
let tenantsPath: string;
const certs = makeTestCertificates();
/** Credentials of a client that trusts the CA of the API's certificate. */
const trustingCa = () => grpc.credentials.createSsl(certs.read(certs.caCert));
/** Every tenant of the test, with any of them changed (a key rotated). */
const everyTenant = (changed?: TestTenant) =>
  [acme, globex, slow, paced, streamer, rotating, batcher].map((t) => (t.id === changed?.id ? changed : t));
const seen: Record<string, { value: Buffer; headers: Record<string, string> }[]> = {};
/** Number ranges: the test's recipients (+62812…) on the carrier given. */
const rangesPath = join(mkdtempSync(join(tmpdir(), 'ingest-ranges-')), 'number-ranges.yaml');
const writeRanges = (mccMnc: string) =>
  writeFileSync(rangesPath, `ranges:\n  - { prefix: '62812', mccMnc: '${mccMnc}', name: Telkomsel }\n`);

/** Records of a topic seen since the test started whose decoded value passes `match`. */
function recordsOf<T>(
  topic: { name: string; codec: { decode(b: Uint8Array): T } },
  match: (v: T) => boolean,
): T[] {
  return (seen[topic.name] ?? []).map((r) => topic.codec.decode(r.value)).filter(match);
}

function dlqRecords(dlq = topics.sendEvents.dlq): { reason: string; field: string; value: Buffer }[] {
  return (seen[dlq] ?? []).map((r) => ({
    reason: r.headers[DLQ_HEADERS.reason] ?? '',
    field: r.headers[DLQ_HEADERS.field] ?? '',
    value: r.value,
  }));
}

const message = (over: Plain = {}): Plain => ({
  to: '+6281234567890',
  from: 'Tern',
  body: 'Your code is 482913',
  type: 'MESSAGE_TYPE_OTP',
  ...over,
});

beforeAll(async () => {
  // Every platform topic, as an operator creates them: ingest writes more than the test reads.
  await ensurePlatformTopics();
  watcher = kafka.consumer({ groupId: `${run}-watch`, sessionTimeout: 10_000 });
  await watcher.connect();
  await watcher.subscribe({
    topics: [
      topics.accepted.name,
      topics.status.name,
      topics.conversions.name,
      topics.sendEvents.dlq,
      topics.conversionEvents.dlq,
    ].map(testClusterName),
    fromBeginning: false,
  });
  let assigned = false;
  watcher.on(watcher.events.GROUP_JOIN, () => (assigned = true));
  await watcher.run({
    eachMessage: async ({ topic, message: m }) => {
      const headers = Object.fromEntries(Object.entries(m.headers ?? {}).map(([k, v]) => [k, String(v)]));
      (seen[declaredTopicName(topic)] ??= []).push({ value: m.value ?? Buffer.alloc(0), headers });
    },
  });
  await waitFor('the watcher to join', () => assigned);

  const tenants = tenantsFile(everyTenant());
  tenantsPath = tenants.path;
  writeRanges('51010');
  service = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
    ...tenants.env,
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: infra.redisUrl,
    TERN_TENANTS_FILE: tenants.path,
    TERN_GRPC_PORT: '0',
    TERN_API_HTTP_PORT: '0',
    TERN_SMPP_PORT: '0',
    TERN_SMPP_TLS_PORT: '0',
    // A fixed deployment: its groups read the shared topics' history once per machine, not every run
    // (tenants are new each run, so earlier runs' records change nothing here).
    TERN_INGEST_DEPLOYMENT: 'ingest-test',
    TERN_KAFKA_SESSION_TIMEOUT_MS: '10000',
    TERN_STATUS_STREAMS_PER_TENANT: '3',
    TERN_TENANTS_RELOAD_MS: '500',
    TERN_NUMBER_RANGES_FILE: rangesPath,
    TERN_NUMBER_RANGES_RELOAD_MS: '200',
    // The public API as deployed: TLS only.
    TERN_GRPC_TLS_CERT_FILE: certs.serverCert,
    TERN_GRPC_TLS_KEY_FILE: certs.serverKey,
  });
  grpcPort = await waitFor(
    'the gRPC port',
    () => service.logs.find((l) => l['msg'] === 'gRPC API listening')?.['grpcPort'] as number | undefined,
  );
  await waitFor('ingest to be ready', async () => (await service.ready()).status === 200);
  client = new PlainClient(grpcPort, trustingCa());
});

afterAll(async () => {
  client?.close();
  expect(await service?.stop()).toBe(0);
  await watcher?.disconnect();
});

describe('gRPC SmsService', () => {
  it('accepts a message, enriched, and publishes sms.accepted and ACCEPTED once', async () => {
    const reference = `otp-${run}-1`;
    const first = await client.unary('sendMessage', message({ clientReference: reference }), acme.apiKey);
    expect(first).toMatchObject({
      status: 'MESSAGE_STATUS_ACCEPTED',
      duplicate: false,
      encoding: 'ENCODING_GSM7',
      segments: 1,
      country: 'ID',
    });
    // The same reference again: the first id back, and nothing published a second time.
    const repeat = await client.unary('sendMessage', message({ clientReference: reference }), acme.apiKey);
    expect(repeat).toMatchObject({ messageId: first['messageId'], duplicate: true });

    const accepted = await waitFor('sms.accepted', () => {
      const found = recordsOf(topics.accepted, (v) => v.message?.messageId === first['messageId']);
      return found.length > 0 && found;
    });
    await waitFor(
      'the ACCEPTED status event',
      () => recordsOf(topics.status, (v) => v.messageId === first['messageId']).length > 0,
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(recordsOf(topics.accepted, (v) => v.message?.messageId === first['messageId'])).toHaveLength(1);
    expect(accepted[0]?.message).toMatchObject({
      tenantId: acme.id,
      to: '+6281234567890',
      senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
      type: sms.MessageType.MESSAGE_TYPE_OTP,
      encoding: sms.Encoding.ENCODING_GSM7,
      clientReference: reference,
    });
    // OTP validity defaults to 10 minutes.
    const { acceptedAt, expiresAt } = accepted[0]!.message!;
    expect(expiresAt!.getTime() - acceptedAt!.getTime()).toBe(10 * 60_000);
  });

  it('refuses a reused reference with different content', async () => {
    const reference = `otp-${run}-reuse`;
    await client.unary('sendMessage', message({ clientReference: reference }), acme.apiKey);
    const refused = await failure(
      client.unary('sendMessage', message({ clientReference: reference, body: 'another text' }), acme.apiKey),
    );
    expect(refused).toMatchObject({ code: grpc.status.ALREADY_EXISTS, errorCode: 'IDEMPOTENCY_KEY_REUSED' });
  });

  it.each([
    ['to', 'NOT_E164', { to: '08123456789' }],
    ['to', 'INVALID_NUMBER', { to: '+999123456789' }],
    ['to', 'NOT_MOBILE', { to: '+442071234567' }],
    ['from', 'INVALID_SENDER', { from: 'Bad!Sender' }],
    ['body', 'INVALID_BODY', { body: '' }],
    ['body', 'INVALID_BODY', { body: 'x'.repeat(153 * 10 + 1) }],
    ['callback_url', 'INVALID_CALLBACK_URL', { callbackUrl: 'http://127.0.0.1:9/hook' }],
    ['callback_url', 'INVALID_CALLBACK_URL', { callbackUrl: 'ftp://example.com/hook' }],
    ['validity', 'INVALID_VALIDITY', { validity: { seconds: 5, nanos: 0 } }],
  ])('answers INVALID_ARGUMENT naming %s with %s', async (field, reason, over) => {
    const refused = await failure(client.unary('sendMessage', message(over), acme.apiKey));
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.errorCode).toBe(reason);
    expect(refused.violations).toEqual([{ field, reason }]);
  });

  it('answers UNAUTHENTICATED without a key or with an unknown one', async () => {
    for (const key of [undefined, 'no-such-key']) {
      expect((await failure(client.unary('sendMessage', message(), key))).code).toBe(
        grpc.status.UNAUTHENTICATED,
      );
      expect((await failure(client.unary('getMessage', { messageId: 'x' }, key))).code).toBe(
        grpc.status.UNAUTHENTICATED,
      );
    }
  });

  it('answers each batch item on its own', async () => {
    const batch = await client.unary(
      'sendBatch',
      {
        messages: [
          message({ clientReference: `b-${run}-0` }),
          message({ to: 'not a number' }),
          message({ body: 'Привет, ваш код 1234', type: 'MESSAGE_TYPE_TRANSACTIONAL' }),
          message({ from: 'X' }),
          message({ clientReference: `b-${run}-0` }),
        ],
      },
      acme.apiKey,
    );
    const results = batch['results'] as Plain[];
    expect(results.map((r) => r['result'])).toEqual(['accepted', 'error', 'accepted', 'error', 'accepted']);
    expect(results[1]?.['error']).toMatchObject({
      code: 'NOT_E164',
      violations: [{ field: 'messages[1].to' }],
    });
    expect(results[2]?.['accepted']).toMatchObject({ encoding: 'ENCODING_UCS2', segments: 1 });
    expect(results[3]?.['error']).toMatchObject({
      code: 'INVALID_SENDER',
      violations: [{ field: 'messages[3].from' }],
    });
    // The same reference twice in one batch is one message.
    expect(results[4]?.['accepted']).toMatchObject({
      messageId: results[0]?.['accepted']['messageId'],
      duplicate: true,
    });
    expect(
      (
        await failure(
          client.unary('sendBatch', { messages: Array.from({ length: 1001 }, () => message()) }, acme.apiKey),
        )
      ).code,
    ).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('limits a tenant to its send rate: RESOURCE_EXHAUSTED, a batch cut at the limit', async () => {
    const batch = await client.unary(
      'sendBatch',
      { messages: Array.from({ length: 5 }, () => message()) },
      slow.apiKey,
    );
    const results = batch['results'] as Plain[];
    expect(results.map((r) => r['result'])).toEqual(['accepted', 'accepted', 'accepted', 'error', 'error']);
    expect(results[3]?.['error']).toMatchObject({ code: 'RATE_LIMITED' });
    const limited = await failure(client.unary('sendMessage', message(), slow.apiKey));
    expect(limited).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, errorCode: 'RATE_LIMITED' });
    // A real hint, also as google.rpc.RetryInfo: at 0.2 a second, one more message takes 5 s to be allowed.
    expect(limited.retryDelayMs).toBeGreaterThanOrEqual(4000);
    expect(limited.retryDelayMs).toBeLessThanOrEqual(5000);
  });

  it('keeps error details small whatever the request: capped violations, short echoed fields', async () => {
    const labels = Object.fromEntries(
      Array.from({ length: 300 }, (_, i) => [`${'bad key '.repeat(40)}${i}`, 'x'.repeat(300)]),
    );
    // A default client (8 KiB of headers): over that it would see RESOURCE_EXHAUSTED, not the error.
    const refused = await failure(client.unary('sendMessage', message({ labels }), acme.apiKey));
    expect(refused.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(refused.violations.length).toBeLessThanOrEqual(9);
    expect(refused.violations.at(-1)).toEqual({ field: '', reason: 'MORE_VIOLATIONS' });
    expect(refused.detailsBytes).toBeLessThan(4096);
  });

  it("reads a message back, updated from sms.status, and never another tenant's", async () => {
    const sent = await client.unary('sendMessage', message({ clientReference: `get-${run}` }), acme.apiKey);
    const id = sent['messageId'] as string;
    const view = await client.unary('getMessage', { messageId: id }, acme.apiKey);
    expect(view).toMatchObject({
      messageId: id,
      status: 'MESSAGE_STATUS_ACCEPTED',
      to: '+6281234567890',
      country: 'ID',
    });
    for (const [key, messageId] of [
      [globex.apiKey, id],
      [acme.apiKey, 'no-such-message'],
    ] as const) {
      const missing = await failure(client.unary('getMessage', { messageId }, key));
      expect(missing.code).toBe(grpc.status.NOT_FOUND);
    }

    const producer = new KafkaClient({
      brokers: infra.kafkaBrokers,
      clientId: `${run}-dlr`,
      logger,
      topicNamespace: testNamespace(),
    });
    await producer.producer().connect();
    const delivered: sms.StatusEvent = {
      ...sms.StatusEvent.fromPartial({ messageId: id, tenantId: acme.id }),
      status: sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
      attempt: 1,
      channelId: 'direct-1',
      receiptState: sms.ReceiptState.RECEIPT_STATE_DELIVRD,
      smscMessageIds: ['a1b2'],
      occurredAt: new Date(),
    };
    // A SUBMITTED that comes after the receipt (another producer, or redelivered) must not move it back.
    const lateSubmitted: sms.StatusEvent = {
      ...delivered,
      status: sms.MessageStatus.MESSAGE_STATUS_SUBMITTED,
      receiptState: sms.ReceiptState.RECEIPT_STATE_UNSPECIFIED,
    };
    await producer.producer().send(topics.status, [delivered, lateSubmitted]);
    const updated = await waitFor(
      'the view to show DELIVERED',
      async () => {
        const v = await client.unary('getMessage', { messageId: id }, acme.apiKey);
        return v['status'] === 'MESSAGE_STATUS_DELIVERED' && v;
      },
      30_000,
      20,
    );
    await producer.disconnect();
    expect(updated['attempts']).toEqual([
      expect.objectContaining({
        number: 1,
        channelId: 'direct-1',
        receiptState: 'RECEIPT_STATE_DELIVRD',
        smscMessageIds: ['a1b2'],
      }),
    ]);
    // The late SUBMITTED, right behind it on the same partition, has been read by now: it changed nothing.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    const after = await client.unary('getMessage', { messageId: id }, acme.apiKey);
    expect(after['status']).toBe('MESSAGE_STATUS_DELIVERED');
  });

  it("takes conversion reports once per message, by id or reference, for the tenant's own messages only", async () => {
    const reference = `conv-${run}`;
    const sent = await client.unary('sendMessage', message({ clientReference: reference }), acme.apiKey);
    const id = sent['messageId'] as string;
    const usedAt = new Date(Date.now() + 2000);
    const first = await client.unary(
      'reportConversion',
      { clientReference: reference, convertedAt: usedAt },
      acme.apiKey,
    );
    expect(first).toMatchObject({ messageId: id, duplicate: false });
    // Dates: see the status stream test below on Timestamps in this process.
    expect(first['convertedAt']).toEqual(usedAt);
    // Again, by id and with another time: the first conversion stands and nothing is published again.
    const again = await client.unary('reportConversion', { messageId: id }, acme.apiKey);
    expect(again).toMatchObject({ messageId: id, duplicate: true });
    expect(again['convertedAt']).toEqual(usedAt);
    // Another tenant cannot report (or learn of) acme's message, by id or by acme's reference.
    for (const request of [{ messageId: id }, { clientReference: reference }]) {
      expect((await failure(client.unary('reportConversion', request, globex.apiKey))).code).toBe(
        grpc.status.NOT_FOUND,
      );
    }
    const published = await waitFor('the conversion on sms.conversions', () => {
      const found = recordsOf(topics.conversions, (c) => c.messageId === id);
      return found.length > 0 && found;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(recordsOf(topics.conversions, (c) => c.messageId === id)).toHaveLength(1);
    expect(published[0]).toMatchObject({
      tenantId: acme.id,
      type: sms.MessageType.MESSAGE_TYPE_OTP,
      country: 'ID',
      convertedAt: usedAt,
    });
  });

  it('refuses malformed and late conversion reports with the field and reason', async () => {
    const sent = await client.unary(
      'sendMessage',
      message({ clientReference: `late-${run}`, validity: { seconds: 60, nanos: 0 } }),
      acme.apiKey,
    );
    const id = sent['messageId'] as string;
    const refusal = async (request: Plain) => failure(client.unary('reportConversion', request, acme.apiKey));
    const neither = await refusal({});
    expect(neither).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, errorCode: 'ONE_OF_REQUIRED' });
    expect(neither.violations).toEqual([{ field: 'message_id', reason: 'ONE_OF_REQUIRED' }]);
    const before = await refusal({
      messageId: id,
      convertedAt: new Date(Date.now() - 3_600_000),
    });
    expect(before).toMatchObject({
      code: grpc.status.INVALID_ARGUMENT,
      errorCode: 'CONVERTED_BEFORE_ACCEPTED',
    });
    // Its validity (60 s) ends before this time, which is still within the clocks' allowed skew of now.
    const late = await refusal({ messageId: id, convertedAt: new Date(Date.now() + 120_000) });
    expect(late).toMatchObject({
      code: grpc.status.FAILED_PRECONDITION,
      errorCode: 'CONVERSION_AFTER_VALIDITY',
    });
    expect(late.violations).toEqual([{ field: 'converted_at', reason: 'CONVERSION_AFTER_VALIDITY' }]);
    expect(recordsOf(topics.conversions, (c) => c.messageId === id)).toEqual([]);
  });

  it("streams a tenant's status events live and resumes from a cursor", async () => {
    const since = new Date(Date.now() - 1);
    // A Date, not {seconds, nanos}: the test client maps google.protobuf.Timestamp to Date (./client).
    const live = client.stream({ since }, acme.apiKey);
    const other = client.stream({}, globex.apiKey);
    // Neither cursor nor time: everything from the moment the call arrived.
    const fromNow = client.stream({}, acme.apiKey);
    const sent = await Promise.all(
      [1, 2, 3].map((i) =>
        client.unary('sendMessage', message({ clientReference: `stream-${run}-${i}` }), acme.apiKey),
      ),
    );
    const ids = sent.map((s) => s['messageId'] as string);
    await waitFor('three ACCEPTED events on the stream', () =>
      ids.every((id) => live.events.some((e) => e['messageId'] === id)),
    );
    await waitFor('the same events on the stream opened without a start', () =>
      ids.every((id) => fromNow.events.some((e) => e['messageId'] === id)),
    );
    const ours = live.events.filter((e) => ids.includes(e['messageId']));
    expect(ours.every((e) => e['status'] === 'MESSAGE_STATUS_ACCEPTED' && e['tenantId'] === acme.id)).toBe(
      true,
    );
    expect(other.events.filter((e) => ids.includes(e['messageId']))).toEqual([]);

    // Resume after the first of ours: the two others come again, nothing before it.
    const first = ours[0]!;
    const resumed = client.stream({ cursor: first['cursor'] }, acme.apiKey);
    await waitFor(
      'the resumed stream',
      () => resumed.events.filter((e) => ids.includes(e['messageId'])).length >= 2,
    );
    expect(resumed.events.map((e) => e['messageId'])).not.toContain(first['messageId']);
    for (const s of [live, other, fromNow, resumed]) s.cancel();

    const bad = client.stream({ cursor: 'not-a-cursor' }, acme.apiKey);
    expect((await bad.error).code).toBe(grpc.status.INVALID_ARGUMENT);
  });

  it('streams the same events many to a response with StreamStatusBatches, resuming from any cursor', async () => {
    const since = new Date(Date.now() - 1);
    const single = client.stream({ since }, batcher.apiKey);
    const live = client.stream({ since }, batcher.apiKey, 'streamStatusBatches');
    const other = client.stream({}, globex.apiKey, 'streamStatusBatches');
    const sent = await client.unary(
      'sendBatch',
      { messages: [1, 2, 3, 4, 5].map((i) => message({ clientReference: `batches-${run}-${i}` })) },
      batcher.apiKey,
    );
    const ids = (sent['results'] as Plain[]).map((r) => (r['accepted'] as Plain)['messageId'] as string);
    const ours = (stream: ReturnType<PlainClient['stream']>) =>
      stream.events.filter((e) => ids.includes(e['messageId']));
    await waitFor('the five ACCEPTED events one by one', () => ours(single).length === 5);
    await waitFor('the same five in batches', () => ours(live).length === 5);
    // The same events, in the same order, with the same cursors, whichever way they were streamed.
    const view = (e: Plain) => [e['messageId'], e['status'], e['cursor']];
    expect(ours(live).map(view)).toEqual(ours(single).map(view));
    expect(ours(other)).toEqual([]);
    // A tenant has three streams at most here (the next test shows the cap); a cancelled one is counted
    // out once the server has seen it go, so the next ones are opened as soon as there is room.
    for (const s of [live, other]) s.cancel();
    const admitted = async (request: Plain) => {
      let stream: ReturnType<PlainClient['stream']> | undefined;
      await waitFor('room for another stream', async () => {
        const candidate = client.stream(request, batcher.apiKey, 'streamStatusBatches');
        const refused = await Promise.race([
          candidate.error.then((e) => e.code === grpc.status.RESOURCE_EXHAUSTED),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1000)),
        ]);
        if (!refused) stream = candidate;
        return !refused;
      });
      return stream!;
    };

    // Opened after they were all recorded: the backlog comes in one response, not one per event.
    const backlog = await admitted({ since });
    await waitFor('the backlog', () => ours(backlog).length === 5);
    expect(backlog.batchSizes[0]).toBeGreaterThanOrEqual(5);
    expect(ours(backlog).map(view)).toEqual(ours(single).map(view));

    // Resuming from an event in the middle of a batch: only what came after it.
    const third = ours(backlog)[2]!;
    const resumed = await admitted({ cursor: third['cursor'] });
    await waitFor('the resumed batches', () => ours(resumed).length >= 2);
    expect(ours(resumed).map((e) => e['messageId'])).toEqual(
      ours(backlog)
        .slice(3)
        .map((e) => e['messageId']),
    );
    for (const s of [single, backlog, resumed]) s.cancel();
  });

  it("caps a tenant's open status streams with RESOURCE_EXHAUSTED, while other tenants' keep working", async () => {
    const sendAs = async (tenant: TestTenant, reference: string) =>
      (await client.unary('sendMessage', message({ clientReference: reference }), tenant.apiKey))[
        'messageId'
      ] as string;
    const sees = (stream: ReturnType<PlainClient['stream']>, id: string) =>
      stream.events.some((e) => e['messageId'] === id);
    const held = [1, 2, 3].map(() => client.stream({}, streamer.apiKey));
    // Open once they carry an event.
    const firstId = await sendAs(streamer, `streams-${run}-1`);
    await waitFor('three streams open', () => held.every((s) => sees(s, firstId)));

    const fourth = client.stream({}, streamer.apiKey);
    const refused = await failure(fourth.error.then((e) => Promise.reject(e)));
    expect(refused).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, errorCode: 'TOO_MANY_STREAMS' });

    const other = client.stream({}, acme.apiKey);
    const otherId = await sendAs(acme, `streams-${run}-other`);
    await waitFor("another tenant's stream", () => sees(other, otherId));

    // A stream closed frees its place.
    held[0]!.cancel();
    let again: ReturnType<PlainClient['stream']> | undefined;
    await waitFor('a place for a new stream', async () => {
      const candidate = client.stream({}, streamer.apiKey);
      const open = await Promise.race([
        candidate.error.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 500)),
      ]);
      if (open) again = candidate;
      return open;
    });
    const laterId = await sendAs(streamer, `streams-${run}-2`);
    await waitFor('the new stream to carry events', () => sees(again!, laterId));
    for (const s of [...held, other, again!]) s.cancel();
  });

  it('serves TLS only: a plaintext client is refused', async () => {
    const plaintext = new PlainClient(grpcPort);
    try {
      expect((await failure(plaintext.unary('sendMessage', message(), acme.apiKey))).code).toBe(
        grpc.status.UNAVAILABLE,
      );
    } finally {
      plaintext.close();
    }
  });

  it('serves gRPC health checking and reflection', async () => {
    const health = healthClient(grpcPort, trustingCa()) as unknown as {
      check(req: Plain, cb: (e: grpc.ServiceError | null, r: Plain) => void): void;
    };
    const status = await new Promise<Plain>((resolve, reject) =>
      health.check({ service: 'tern.sms.v1.SmsService' }, (e, r) => (e ? reject(e) : resolve(r))),
    );
    expect(status['status']).toBe('SERVING');

    const reflection = reflectionClient(grpcPort, trustingCa()) as unknown as {
      serverReflectionInfo(): grpc.ClientDuplexStream<Plain, Plain>;
    };
    const call = reflection.serverReflectionInfo();
    const reply = new Promise<Plain>((resolve, reject) => call.once('data', resolve).once('error', reject));
    call.write({ listServices: '' });
    const services = ((await reply)['listServicesResponse']['service'] as Plain[]).map((s) => s['name']);
    call.end();
    expect(services).toContain('tern.sms.v1.SmsService');
  });
});

describe('Kafka conversion-events intake', () => {
  const conversionEvent = (
    tenant: TestTenant,
    conversion: sms.ReportConversionRequest,
    eventId: string,
    { secret = tenant.eventSecret, kind }: { secret?: string; kind?: SignedEventKind } = {},
  ): events.ConversionEvent => {
    const sentAt = new Date();
    const fields = { tenantId: tenant.id, keyId: tenant.eventKeyId, eventId, sentAt };
    const bytes = encodeMessage(sms.ReportConversionRequest, conversion);
    return {
      ...fields,
      signature: signEvent(secret, eventSigningInput(fields, bytes, kind ?? 'conversion')),
      conversion,
    };
  };

  it('takes signed conversion events once per message and dead-letters what cannot be taken', async () => {
    const sent = await Promise.all(
      [1, 2].map((i) =>
        client.unary('sendMessage', message({ clientReference: `cev-${run}-${i}` }), acme.apiKey),
      ),
    );
    const [first, second] = sent.map((s) => s['messageId'] as string) as [string, string];
    const byReference = sms.ReportConversionRequest.fromPartial({ clientReference: `cev-${run}-1` });
    const valid = encodeMessage(events.ConversionEvent, conversionEvent(acme, byReference, `${run}-c1`));
    // The second as JSON, as a producer in any language would: the conversion's text signed as it is sent.
    const conversionText = JSON.stringify({ messageId: second });
    const sentAt = new Date();
    const jsonSignature = signEvent(
      acme.eventSecret,
      eventSigningInput(
        { tenantId: acme.id, keyId: acme.eventKeyId, eventId: `${run}-c2`, sentAt },
        conversionText,
        'conversion',
      ),
    );
    const json = Buffer.from(
      `{"tenantId": "${acme.id}", "keyId": "${acme.eventKeyId}", "eventId": "${run}-c2", "sentAt": "${sentAt.toISOString()}", "signature": "${jsonSignature}", "conversion": ${conversionText}}`,
    );
    const refused = [
      // Forged; signed as a send event (whose signature must never pass for a conversion's); another
      // tenant's event naming acme's message.
      encodeMessage(
        events.ConversionEvent,
        conversionEvent(acme, byReference, `${run}-c3`, { secret: 'wrong' }),
      ),
      encodeMessage(
        events.ConversionEvent,
        conversionEvent(acme, byReference, `${run}-c4`, { kind: 'send' }),
      ),
      encodeMessage(
        events.ConversionEvent,
        conversionEvent(globex, sms.ReportConversionRequest.fromPartial({ messageId: first }), `${run}-c5`),
      ),
    ];
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: testClusterName(topics.conversionEvents.name),
      // One key: one partition, in this order; the valid event twice (a replay changes nothing).
      messages: [valid, valid, ...refused, json].map((value) => ({
        key: run,
        value,
        ...(value === json ? { headers: { 'content-type': 'application/json' } } : {}),
      })),
    });
    await producer.disconnect();

    await waitFor('both conversions on sms.conversions', () =>
      [first, second].every((id) => recordsOf(topics.conversions, (c) => c.messageId === id).length > 0),
    );
    const mine = await waitFor('the refused events in the DLQ', () => {
      const found = dlqRecords(topics.conversionEvents.dlq).filter((r) =>
        refused.some((v) => v.equals(r.value)),
      );
      return found.length === refused.length && found;
    });
    // Handled side by side, so dead-lettered in any order: each refused event with its own reason.
    expect(refused.map((v) => mine.find((r) => r.value.equals(v))).map((r) => [r?.reason, r?.field])).toEqual(
      [
        ['BAD_SIGNATURE', 'signature'],
        ['BAD_SIGNATURE', 'signature'],
        ['MESSAGE_NOT_FOUND', 'conversion'],
      ],
    );
    await new Promise((resolve) => setTimeout(resolve, 1000));
    for (const id of [first, second]) {
      expect(recordsOf(topics.conversions, (c) => c.messageId === id)).toHaveLength(1);
    }
    expect(
      dlqRecords(topics.conversionEvents.dlq).filter((r) => r.value.equals(valid) || r.value.equals(json)),
    ).toEqual([]);
  });
});

describe('Kafka send-events intake', () => {
  const request = (reference: string, over: Partial<sms.SendMessageRequest> = {}) =>
    sms.SendMessageRequest.fromPartial({
      to: '+6281234567890',
      from: 'Tern',
      body: 'Your order shipped',
      type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
      clientReference: reference,
      ...over,
    });
  const signedEvent = (
    tenant: TestTenant,
    req: sms.SendMessageRequest,
    { secret = tenant.eventSecret, sentAt = new Date(), eventId = `${req.clientReference}-event` } = {},
  ): events.SendEvent => ({
    tenantId: tenant.id,
    keyId: tenant.eventKeyId,
    eventId,
    signature: signEvent(
      secret,
      eventSigningInput(
        { tenantId: tenant.id, keyId: tenant.eventKeyId, eventId, sentAt },
        encodeMessage(sms.SendMessageRequest, req),
      ),
    ),
    message: req,
    sentAt,
  });

  it('accepts signed protobuf and JSON events and dead-letters bad ones with their reason, without stalling', async () => {
    const producer = kafka.producer();
    await producer.connect();
    const signedProto = (...args: Parameters<typeof signedEvent>) =>
      encodeMessage(events.SendEvent, signedEvent(...args));
    const signedJson = (tenant: TestTenant, req: sms.SendMessageRequest) => {
      // As a producer in any language would: serialise the message, sign the header lines and that text,
      // embed the text as is.
      const messageText = JSON.stringify(sms.SendMessageRequest.toJSON(req), null, 1);
      const sentAt = new Date();
      const eventId = `${req.clientReference}-event`;
      const signature = signEvent(
        tenant.eventSecret,
        eventSigningInput({ tenantId: tenant.id, keyId: tenant.eventKeyId, eventId, sentAt }, messageText),
      );
      return Buffer.from(
        `{ "tenantId": "${tenant.id}", "keyId": "${tenant.eventKeyId}", "eventId": "${eventId}", "sentAt": "${sentAt.toISOString()}", "signature": "${signature}",\n "message": ${messageText} }`,
      );
    };
    // A captured event, sent again as it was, and with a fresh sent_at under its old signature.
    const captured = signedEvent(acme, request(`ev-${run}-captured`));
    const refreshed = encodeMessage(events.SendEvent, { ...captured, sentAt: new Date(Date.now() + 1000) });
    const json = { 'content-type': 'application/json' };
    const records = [
      { value: signedProto(acme, request(`ev-${run}-proto`)) },
      { value: encodeMessage(events.SendEvent, captured) },
      { value: encodeMessage(events.SendEvent, captured) },
      { value: refreshed },
      { value: signedProto(acme, request(`ev-${run}-noid`), { eventId: '' }) },
      // Unique bytes per run: the DLQ is shared with earlier runs.
      { value: Buffer.from(`{"tenantId": "${acme.id}", "message": {"to": "${run}"`), headers: json },
      {
        value: encodeMessage(
          events.DeliveryReceipt,
          events.DeliveryReceipt.fromPartial({ channelId: run, smscMessageId: '42' }),
        ),
      },
      { value: signedProto({ ...acme, id: `nobody-${run}` }, request(`ev-${run}-unknown`)) },
      { value: signedProto(acme, request(`ev-${run}-forged`), { secret: 'wrong-secret' }) },
      {
        value: signedProto(acme, request(`ev-${run}-stale`, { type: sms.MessageType.MESSAGE_TYPE_OTP }), {
          sentAt: new Date(Date.now() - 3_600_000),
        }),
      },
      { value: signedProto(globex, request(`ev-${run}-badnumber`, { to: '+4420' })) },
      { value: signedJson(globex, request(`ev-${run}-json`)), headers: json },
    ];
    // One key: every record on one partition, in this order, so a stall would hold back the last one.
    await producer.send({
      topic: testClusterName(topics.sendEvents.name),
      messages: records.map((r) => ({ key: run, ...r })),
    });
    await producer.disconnect();

    const acceptedRefs = () =>
      recordsOf(topics.accepted, (v) => v.message?.clientReference.startsWith(`ev-${run}`) ?? false).map(
        (v) => `${v.message?.tenantId}:${v.message?.clientReference}`,
      );
    await waitFor('the three valid events', () => acceptedRefs().length === 3);
    expect(acceptedRefs().sort()).toEqual(
      [`${acme.id}:ev-${run}-proto`, `${acme.id}:ev-${run}-captured`, `${globex.id}:ev-${run}-json`].sort(),
    );
    const dead = await waitFor('nine DLQ records', () => {
      const mine = dlqRecords().filter((r) => records.some((rec) => rec.value.equals(r.value)));
      return mine.length === 9 && mine;
    });
    // Events are accepted many at a time, so the DLQ's order is not the topic's.
    expect(dead.map((d) => `${d.reason} ${d.field}`).sort()).toEqual(
      [
        'DECODE_ERROR ',
        'MISSING_MESSAGE message',
        'UNKNOWN_TENANT tenant_id',
        'BAD_SIGNATURE signature',
        'BAD_SIGNATURE signature',
        'REPLAYED event_id',
        'BAD_EVENT_ID event_id',
        'EXPIRED sent_at',
        'NOT_E164 message.to',
      ].sort(),
    );
  });

  it('holds a tenant to its send rate, as on the API: the excess waits and none is lost', async () => {
    // 5 a second with a burst of 5: 20 events take at least 3 s to be accepted.
    const sent = Array.from({ length: 20 }, (_, i) =>
      encodeMessage(events.SendEvent, signedEvent(paced, request(`paced-${run}-${i}`))),
    );
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: testClusterName(topics.sendEvents.name),
      messages: sent.map((value) => ({ key: paced.id, value })),
    });
    await producer.disconnect();
    const acceptedAt = () =>
      recordsOf(topics.accepted, (v) => v.message?.tenantId === paced.id).map(
        (v) => v.message?.acceptedAt?.getTime() ?? 0,
      );
    await waitFor('all 20 events accepted', () => acceptedAt().length === 20, 30_000);
    const times = acceptedAt().sort((a, b) => a - b);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(2_900);
    expect(dlqRecords().filter((r) => sent.some((e) => e.equals(r.value)))).toEqual([]);
  });

  it("takes a tenant's new API key and event key while running, then drops the old key, without a restart", async () => {
    const newKey = `key-rotated-${run}`;
    const eventSecretFile = join(mkdtempSync(join(tmpdir(), 'ingest-ev2-')), 'ev2');
    writeFileSync(eventSecretFile, `secret-ev2-${run}`);
    const ev2 = { id: 'ev2', file: eventSecretFile };
    let sent = 0;
    const sendWith = (key: string) =>
      client.unary('sendMessage', message({ clientReference: `rotate-${run}-${++sent}` }), key);
    const works = (key: string) =>
      sendWith(key).then(
        () => true,
        () => false,
      );
    expect(await works(newKey)).toBe(false);

    // Both keys, and a second event key, for the time the tenant's systems switch over.
    tenantsFile(everyTenant({ ...rotating, moreApiKeys: [newKey], moreEventKeys: [ev2] }), tenantsPath);
    await waitFor('the new API key taken', () => works(newKey), 15_000);
    expect(await works(rotating.apiKey)).toBe(true);
    const producer = kafka.producer();
    await producer.connect();
    const withEv2 = { ...rotating, eventKeyId: 'ev2', eventSecret: `secret-ev2-${run}` };
    await producer.send({
      topic: testClusterName(topics.sendEvents.name),
      messages: [
        {
          key: rotating.id,
          value: encodeMessage(events.SendEvent, signedEvent(withEv2, request(`rotate-${run}-event`))),
        },
      ],
    });
    await producer.disconnect();
    await waitFor(
      'the event signed with the new event key accepted',
      () =>
        recordsOf(topics.accepted, (v) => v.message?.clientReference === `rotate-${run}-event`).length === 1,
    );

    // The old key retired.
    tenantsFile(everyTenant({ ...rotating, apiKey: newKey, moreEventKeys: [ev2] }), tenantsPath);
    await waitFor('the old API key refused', async () => !(await works(rotating.apiKey)), 15_000);
    expect((await failure(sendWith(rotating.apiKey))).code).toBe(grpc.status.UNAUTHENTICATED);
    expect(await works(newKey)).toBe(true);
  });
});

describe('number ranges', () => {
  it('enriches the carrier from the number ranges, and follows a change to them without a restart', async () => {
    let sent = 0;
    const carrierOfNext = async () => {
      const reference = `ranges-${run}-${++sent}`;
      await client.unary('sendMessage', message({ clientReference: reference }), acme.apiKey);
      const [accepted] = await waitFor('sms.accepted', () => {
        const found = recordsOf(topics.accepted, (v) => v.message?.clientReference === reference);
        return found.length > 0 && found;
      });
      return accepted?.message?.mccMnc;
    };
    expect(await carrierOfNext()).toBe('51010');

    // The carrier's range moved (a ported block, say): new messages take it at once.
    writeRanges('51011');
    await waitFor('the new ranges taken', async () => (await carrierOfNext()) === '51011', 15_000);

    // A version that does not parse is refused, and the last good ranges stay in force.
    writeFileSync(rangesPath, 'ranges: [{ prefix: 62x }]\n');
    await waitFor('the bad version refused', () =>
      service.logs.some((l) => l['msg'] === 'number ranges refused; the last good ones stay in force'),
    );
    expect(await carrierOfNext()).toBe('51011');
  });
});
