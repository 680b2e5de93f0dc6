// Accepted messages per second through ingest, and accept latency (p50/p99), on these paths:
//   unary  SendMessage calls, `--concurrency` in flight
//   batch  SendBatch calls of `--batch` messages, `--concurrency` in flight
//   http   POST /v1/messages on the HTTP/JSON API, `--concurrency` in flight (keep-alive)
//   http-batch  POST /v1/messages:batch of `--batch` messages, `--concurrency` in flight
//   smpp   submit_sm over `--binds` transmitter binds (Tern's own SMPP client session), `--concurrency` in
//          flight over all of them; then `smpp-receipts`: DELIVERED statuses published for those messages (as dlr
//          would) and their deliver_sm counted at a receiver bind; latency = publish to deliver_sm
//   kafka  signed SendEvents on sms.send-events; latency = sms.accepted record time - send-event record time
//   conversions  signed ConversionEvents on sms.conversion-events for messages accepted first (not timed),
//          half naming the message by id, half by client reference; latency = sms.conversions record time -
//          conversion-event record time; and ingest's CPU per conversion
//   status sms.status events, a message's four (ACCEPTED to DELIVERED) a publish apart; latency = publish to
//          arrival on a StreamStatus stream, i.e. how far behind the pipeline GetMessage and the status stream
//          are; and ingest's CPU per event (its process_cpu_seconds_total)
// batch, conversions and status print the Redis server's CPU per item too (its threads', INFO cpu): nothing
// else may use that Redis meanwhile (./tern down first).
// It starts the built ingest service (pnpm build) against the local infrastructure (TERN_KAFKA_BROKERS,
// TERN_REDIS_URL) and prints one JSON line per path.
//   pnpm --filter @tern/ingest bench --messages 20000 --concurrency 64 --batch 500
import { Agent, request as httpRequest } from 'node:http';
import { connect as connectTcp } from 'node:net';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hashPassword } from '@tern/config';
import { encodeMessage, events, signedConversionEvent, signedSendEvent, sms } from '@tern/contracts';
import { topics } from '@tern/kafka';
import { readTlvString, shortMessageBody, SmppSession, Status, Tlv, type ShortMessageBody } from '@tern/smpp';
import {
  benchRedis,
  cpuMeter,
  deleteNamespaceTopics,
  ensurePlatformTopics,
  infraFromEnv,
  startServiceProcess,
  testClusterName,
  testTopic,
  TOPIC_NAMESPACE_ENV,
  uniqueName,
  waitFor,
  type CpuPerItem,
} from '@tern/testing';
import { Kafka, logLevel } from 'kafkajs';
import { PlainClient, tenantsFile, type TestTenant } from '../test/client';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    concurrency: { type: 'string', default: '64' },
    batch: { type: 'string', default: '500' },
    paths: { type: 'string', default: 'unary,batch,http,http-batch,smpp,kafka,conversions,status' },
    binds: { type: 'string', default: '4' },
    'status-rate': { type: 'string', default: '1000' },
  },
});
const total = Number(values.messages);
const concurrency = Number(values.concurrency);
const batchSize = Number(values.batch);
const statusRate = Number(values['status-rate']);
const binds = Number(values.binds);
const SMPP_PASSWORD = 'bench123';

/** Starts counting ingest's and Redis's CPU (`cpuMeter`). */
type Meter = () => Promise<CpuPerItem<'ingest' | 'redis'>>;

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
function report(
  path: string,
  count: number,
  ms: number,
  latencies: number[],
  extra: Record<string, unknown> = {},
) {
  const sorted = latencies.sort((a, b) => a - b);
  process.stdout.write(
    `${JSON.stringify({
      path,
      accepted: count,
      seconds: +(ms / 1000).toFixed(2),
      perSecond: Math.round(count / (ms / 1000)),
      p50Ms: +quantile(sorted, 0.5).toFixed(1),
      p99Ms: +quantile(sorted, 0.99).toFixed(1),
      ...extra,
    })}\n`,
  );
}

const body = 'Your verification code is 482913. It expires in 10 minutes.';
const to = (i: number) => `+62812${String(10_000_000 + (i % 89_999_999)).padStart(8, '0')}`;

async function main(): Promise<void> {
  const infra = infraFromEnv();
  const run = uniqueName('ib');
  const tenant: TestTenant = {
    id: 'bench',
    apiKey: `bench-${run}`,
    eventKeyId: 'ev',
    eventSecret: `bench-secret-${run}`,
    perSecond: 1_000_000,
    burst: 1_000_000,
    smppAccounts: [
      { systemId: 'bench', passwordHash: await hashPassword(SMPP_PASSWORD), maxBinds: 100, window: 10_000 },
    ],
  };
  const file = tenantsFile([tenant]);
  const kafka = new Kafka({ clientId: run, brokers: infra.kafkaBrokers, logLevel: logLevel.NOTHING });
  // Topics of its own (deleted at the end): it reads none of a local platform's records, and the platform
  // none of its own.
  process.env[TOPIC_NAMESPACE_ENV] = run;
  await ensurePlatformTopics();
  const redis = await benchRedis(infra.redisUrl);
  const service = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
    ...file.env,
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: redis.url,
    TERN_TENANTS_FILE: file.path,
    TERN_GRPC_PORT: '0',
    TERN_API_HTTP_PORT: '0',
    TERN_SMPP_PORT: '0',
    TERN_SMPP_TLS_PORT: '0',
  });
  const grpcPort = await waitFor(
    'the gRPC port',
    () => service.logs.find((l) => l['msg'] === 'gRPC API listening')?.['grpcPort'] as number | undefined,
  );
  await waitFor('ingest to be ready', async () => (await service.ready()).status === 200);
  const client = new PlainClient(grpcPort);
  const httpPort = service.logs.find((l) => l['msg'] === 'HTTP API listening')?.['apiHttpPort'] as number;
  const smppPort = service.logs.find((l) => l['msg'] === 'SMPP server listening')?.['port'] as number;
  const paths = values.paths.split(',');
  try {
    if (paths.includes('unary')) await unary(client, tenant, run);
    // Ingest's CPU and the Redis server's (the benchmarks' database), per message, event or conversion.
    const meter = () => cpuMeter({ ingest: service, redis });
    if (paths.includes('batch')) await batch(client, tenant, run, meter);
    if (paths.includes('http')) await httpSend(httpPort, tenant, run, 1);
    if (paths.includes('http-batch')) await httpSend(httpPort, tenant, run, batchSize);
    if (paths.includes('smpp')) await smppSubmit(smppPort, kafka, tenant);
    if (paths.includes('kafka')) await kafkaIntake(kafka, tenant, run);
    if (paths.includes('conversions')) await conversionIntake(client, kafka, tenant, run, meter);
    if (paths.includes('status')) await statusView(client, kafka, tenant, run, meter);
  } finally {
    client.close();
    await service.stop();
    await redis.clear();
    await deleteNamespaceTopics(run);
  }
}

async function unary(client: PlainClient, tenant: TestTenant, run: string): Promise<void> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await client.unary(
          'sendMessage',
          { to: to(i), from: 'Tern', body, type: 'MESSAGE_TYPE_OTP', clientReference: `${run}-u-${i}` },
          tenant.apiKey,
        );
        latencies.push(performance.now() - t0);
      }
    }),
  );
  report('unary', total, performance.now() - started, latencies, { concurrency });
}

async function batch(client: PlainClient, tenant: TestTenant, run: string, meter: Meter): Promise<void> {
  const latencies: number[] = [];
  let next = 0;
  const calls = Math.ceil(total / batchSize);
  const cpu = await meter();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, calls) }, async () => {
      while (next < calls) {
        const b = next++;
        const messages = Array.from({ length: batchSize }, (_, j) => ({
          to: to(b * batchSize + j),
          from: 'Tern',
          body,
          type: 'MESSAGE_TYPE_OTP',
          clientReference: `${run}-b-${b}-${j}`,
        }));
        const t0 = performance.now();
        await client.unary('sendBatch', { messages }, tenant.apiKey);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  const ms = performance.now() - started;
  const { ingest, redis } = await cpu(calls * batchSize);
  report('batch', calls * batchSize, ms, latencies, {
    batch: batchSize,
    concurrency,
    latencyIs: 'per SendBatch call',
    ingestCpuMsPerMessage: ingest,
    redisCpuMsPerMessage: redis,
  });
}

/** The HTTP/JSON API: one message per POST /v1/messages, or `size` per POST /v1/messages:batch. */
async function httpSend(port: number, tenant: TestTenant, run: string, size: number): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (path: string, payload: unknown) =>
    new Promise<void>((resolve, reject) => {
      const req = httpRequest(
        {
          host: '127.0.0.1',
          port,
          path,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'x-api-key': tenant.apiKey },
        },
        (res) => {
          res.resume();
          res.on('end', () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`${path} answered ${res.statusCode}`)),
          );
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(payload));
    });
  const item = (i: number) => ({
    to: to(i),
    from: 'Tern',
    body,
    type: 'MESSAGE_TYPE_OTP',
    clientReference: `${run}-h${size}-${i}`,
  });
  const latencies: number[] = [];
  let next = 0;
  const calls = Math.ceil(total / size);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(concurrency, calls) }, async () => {
      while (next < calls) {
        const c = next++;
        const t0 = performance.now();
        if (size === 1) await post('/v1/messages', item(c));
        else
          await post('/v1/messages:batch', {
            messages: Array.from({ length: size }, (_, j) => item(c * size + j)),
          });
        latencies.push(performance.now() - t0);
      }
    }),
  );
  agent.destroy();
  report(size === 1 ? 'http' : 'http-batch', calls * size, performance.now() - started, latencies, {
    concurrency,
    ...(size === 1 ? {} : { batch: size, latencyIs: 'per batch call' }),
  });
}

/** A message's status as the pipeline publishes it on sms.status (DELIVERED: as dlr does). */
function statusRecord(
  messageId: string,
  tenantId: string,
  status = sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
): { key: string; value: Buffer } {
  const event = sms.StatusEvent.fromPartial({
    messageId,
    tenantId,
    status,
    attempt: status === sms.MessageStatus.MESSAGE_STATUS_ACCEPTED ? 0 : 1,
    channelId: 'bench',
    errorCode: status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED ? '000' : '',
    occurredAt: new Date(),
  });
  return { key: messageId, value: encodeMessage(sms.StatusEvent, event) };
}

/** An SMPP bind of the bench account on Tern's own client session. */
async function smppBind(port: number, mode: 'transmitter' | 'receiver'): Promise<SmppSession> {
  const socket = connectTcp(port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  const session = new SmppSession(socket, { maxPendingInbound: 10_000 });
  const resp = await session.request(`bind_${mode}`, {
    systemId: 'bench',
    password: SMPP_PASSWORD,
    systemType: '',
    interfaceVersion: 0x34,
    addrTon: 0,
    addrNpi: 0,
    addressRange: '',
  });
  if (resp.status !== Status.ESME_ROK) throw new Error(`bind_${mode} answered ${resp.status}`);
  return session;
}

/** submit_sm over `binds` transmitters, then the receipts of those messages back to a receiver. */
async function smppSubmit(port: number, kafka: Kafka, tenant: TestTenant): Promise<void> {
  const sessions = await Promise.all(Array.from({ length: binds }, () => smppBind(port, 'transmitter')));
  const submit = (i: number): ShortMessageBody =>
    shortMessageBody({
      serviceType: 'OTP',
      sourceAddrTon: 5,
      sourceAddr: 'Tern',
      destAddrTon: 1,
      destAddrNpi: 1,
      destinationAddr: to(i).slice(1),
      registeredDelivery: 1,
      shortMessage: Buffer.from(body),
    });
  const latencies: number[] = [];
  const ids: string[] = [];
  let next = 0;
  let refused = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      const session = sessions[worker % sessions.length]!;
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        const resp = await session.request('submit_sm', submit(i));
        latencies.push(performance.now() - t0);
        if (resp.status === Status.ESME_ROK) ids.push(resp.body.messageId);
        else refused++;
      }
    }),
  );
  report('smpp', ids.length, performance.now() - started, latencies, { binds, concurrency, refused });
  await Promise.all(sessions.map((s) => s.unbind()));

  // Receipts: DELIVERED for every message, at the rate statuses come, counted where the ESME receives them.
  const receiver = await smppBind(port, 'receiver');
  const publishedAt = new Map<string, number>();
  const receiptLatencies: number[] = [];
  receiver.on('request', (pdu) => {
    if (pdu.command !== 'deliver_sm') return;
    const id = readTlvString(pdu.body.tlvs, Tlv.receipted_message_id) ?? '';
    const at = publishedAt.get(id);
    if (at !== undefined) receiptLatencies.push(Date.now() - at);
    receiver.respond(pdu, Status.ESME_ROK, { messageId: '' });
  });
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const receiptsStarted = performance.now();
  for (let offset = 0; offset < ids.length; offset += 500) {
    const records = ids.slice(offset, offset + 500).map((messageId) => {
      publishedAt.set(messageId, Date.now());
      return statusRecord(messageId, tenant.id);
    });
    await producer.send({ topic: testTopic(topics.status).name, messages: records });
    await new Promise((resolve) => setTimeout(resolve, (500 / statusRate) * 1000));
  }
  await waitFor('every receipt', () => receiptLatencies.length >= ids.length, 600_000, 20);
  report('smpp-receipts', receiptLatencies.length, performance.now() - receiptsStarted, receiptLatencies, {
    latencyIs: `sms.status publish to deliver_sm at the ESME, published at ${statusRate}/s`,
  });
  await producer.disconnect();
  await receiver.unbind();
}

/**
 * The time from each record the bench wrote (`sentAt`: its key, when written) to the record it led to on
 * `topic` (`keyOf` a record's value: the key of the one it answers), read by a group of the bench's own.
 */
async function latenciesTo(
  kafka: Kafka,
  groupId: string,
  topic: string,
  keyOf: (value: Buffer) => string,
  sentAt: ReadonlyMap<string, number>,
): Promise<{ latencies: number[]; stop: () => Promise<void> }> {
  const latencies: number[] = [];
  const consumer = kafka.consumer({ groupId });
  await consumer.connect();
  await consumer.subscribe({ topic: testClusterName(topic), fromBeginning: false });
  let joined = false;
  consumer.on(consumer.events.GROUP_JOIN, () => (joined = true));
  await consumer.run({
    eachBatch: ({ batch: b }) => {
      for (const m of b.messages) {
        const at = sentAt.get(keyOf(m.value ?? Buffer.alloc(0)));
        if (at !== undefined) latencies.push(Number(m.timestamp) - at);
      }
      return Promise.resolve();
    },
  });
  await waitFor('the watcher to join', () => joined);
  return { latencies, stop: () => consumer.disconnect() };
}

async function kafkaIntake(kafka: Kafka, tenant: TestTenant, run: string): Promise<void> {
  const sentAt = new Map<string, number>();
  const watcher = await latenciesTo(
    kafka,
    `${run}-watch`,
    topics.accepted.name,
    (value) => events.MessageAccepted.decode(value).message?.clientReference ?? '',
    sentAt,
  );
  const { latencies } = watcher;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const started = performance.now();
  for (let offset = 0; offset < total; offset += 1000) {
    const records = [];
    for (let i = offset; i < Math.min(total, offset + 1000); i++) {
      const message = sms.SendMessageRequest.fromPartial({
        to: to(i),
        from: 'Tern',
        body,
        type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
        clientReference: `${run}-k-${i}`,
      });
      const fields = {
        tenantId: tenant.id,
        keyId: tenant.eventKeyId,
        eventId: `${run}-e-${i}`,
        sentAt: new Date(),
      };
      const value = encodeMessage(events.SendEvent, signedSendEvent(fields, message, tenant.eventSecret));
      // Keys spread the events over every partition, as many producers would.
      records.push({ key: `${tenant.id}-${i % 12}`, value, timestamp: String(Date.now()) });
      sentAt.set(message.clientReference, Date.now());
    }
    await producer.send({ topic: testTopic(topics.sendEvents).name, messages: records });
  }
  await waitFor('every event accepted', () => latencies.length >= total, 600_000, 50);
  report('kafka', total, performance.now() - started, latencies, {
    latencyIs: 'send-event record to sms.accepted record',
  });
  await producer.disconnect();
  await watcher.stop();
}

async function conversionIntake(
  client: PlainClient,
  kafka: Kafka,
  tenant: TestTenant,
  run: string,
  meter: Meter,
): Promise<void> {
  const reference = (i: number) => `${run}-cv-${i}`;
  const ids: string[] = [];
  for (let offset = 0; offset < total; offset += batchSize) {
    const messages = Array.from({ length: Math.min(batchSize, total - offset) }, (_, j) => ({
      to: to(offset + j),
      from: 'Tern',
      body,
      type: 'MESSAGE_TYPE_OTP',
      clientReference: reference(offset + j),
    }));
    const answer = await client.unary('sendBatch', { messages }, tenant.apiKey);
    for (const result of answer['results'] as { accepted?: { messageId: string } }[]) {
      if (!result.accepted) throw new Error(`a message was not accepted: ${JSON.stringify(result)}`);
      ids.push(result.accepted.messageId);
    }
  }
  const sentAt = new Map<string, number>();
  const watcher = await latenciesTo(
    kafka,
    `${run}-conversions`,
    topics.conversions.name,
    (value) => events.ConversionReported.decode(value).messageId,
    sentAt,
  );
  const { latencies } = watcher;
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const cpu = await meter();
  const started = performance.now();
  for (let offset = 0; offset < total; offset += 1000) {
    const records = [];
    for (let i = offset; i < Math.min(total, offset + 1000); i++) {
      const conversion = sms.ReportConversionRequest.fromPartial(
        i % 2 === 0 ? { messageId: ids[i] } : { clientReference: reference(i) },
      );
      const fields = {
        tenantId: tenant.id,
        keyId: tenant.eventKeyId,
        eventId: `${run}-ce-${i}`,
        sentAt: new Date(),
      };
      const value = encodeMessage(
        events.ConversionEvent,
        signedConversionEvent(fields, conversion, tenant.eventSecret),
      );
      records.push({ key: `${tenant.id}-${i % 12}`, value, timestamp: String(Date.now()) });
      sentAt.set(ids[i]!, Date.now());
    }
    await producer.send({ topic: testTopic(topics.conversionEvents).name, messages: records });
  }
  await waitFor('every conversion recorded', () => latencies.length >= total, 600_000, 50);
  const { ingest, redis } = await cpu(total);
  report('conversions', total, performance.now() - started, latencies, {
    latencyIs: 'conversion-event record to sms.conversions record',
    ingestCpuMsPerConversion: ingest,
    redisCpuMsPerConversion: redis,
  });
  await producer.disconnect();
  await watcher.stop();
}

/** A message's statuses in the order the pipeline publishes them. */
const PIPELINE_STATUSES = [
  sms.MessageStatus.MESSAGE_STATUS_ACCEPTED,
  sms.MessageStatus.MESSAGE_STATUS_ROUTED,
  sms.MessageStatus.MESSAGE_STATUS_SUBMITTED,
  sms.MessageStatus.MESSAGE_STATUS_DELIVERED,
];

async function statusView(
  client: PlainClient,
  kafka: Kafka,
  tenant: TestTenant,
  run: string,
  meter: Meter,
): Promise<void> {
  const publishedAt = new Map<string, number>();
  const latencies: number[] = [];
  const stream = client.stream({ since: new Date() }, tenant.apiKey);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const messages = Math.min(total, 20_000);
  const count = messages * PIPELINE_STATUSES.length;
  // Each publish carries the next status of four groups of messages, so a message's events are a publish
  // apart, as a pipeline that keeps up writes them, not side by side in one fetch.
  const group = 500 / PIPELINE_STATUSES.length;
  const groups = Math.ceil(messages / group);
  const cpu = await meter();
  const started = performance.now();
  for (let step = 0; step < groups + PIPELINE_STATUSES.length - 1; step++) {
    const records = [];
    for (const [k, status] of PIPELINE_STATUSES.entries()) {
      const g = step - k;
      if (g < 0 || g >= groups) continue;
      for (let i = g * group; i < Math.min(messages, (g + 1) * group); i++) {
        const messageId = `${run}-s-${i}`;
        records.push(statusRecord(messageId, tenant.id, status));
        publishedAt.set(`${messageId}/${status}`, Date.now());
      }
    }
    await producer.send({ topic: testTopic(topics.status).name, messages: records });
    // Paced like a steady pipeline, not one burst.
    await new Promise((resolve) => setTimeout(resolve, (records.length / statusRate) * 1000));
  }
  await waitFor(
    'every status event on the stream',
    () => {
      const arrivals = stream.arrivals.splice(0);
      for (const [i, event] of stream.events.splice(0).entries()) {
        const status = sms.messageStatusFromJSON(event['status']);
        const at = publishedAt.get(`${event['messageId'] as string}/${status}`);
        if (at !== undefined) latencies.push(arrivals[i]! - at);
      }
      return latencies.length >= count;
    },
    600_000,
    5,
  );
  const { ingest, redis } = await cpu(count);
  report('status', count, performance.now() - started, latencies, {
    latencyIs: `sms.status publish to StreamStatus arrival, published at ${statusRate}/s, four per message`,
    ingestCpuMsPerEvent: ingest,
    redisCpuMsPerEvent: redis,
  });
  stream.cancel();
  await producer.disconnect();
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(1);
});
