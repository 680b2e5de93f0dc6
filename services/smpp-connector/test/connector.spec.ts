import { CarrierSimulator, parseScenario, type ArrivedMessage } from '@tern/carrier-sim';
import { events, sms } from '@tern/contracts';
import { dispatchTopic, DLQ_HEADERS, KafkaClient, topics } from '@tern/kafka';
import { ChannelBacklog } from '@tern/redis';
import { createLogger } from '@tern/telemetry';
import {
  ensurePlatformTopics,
  infraFromEnv,
  testClusterName,
  testNamespace,
  uniqueName,
  waitFor,
} from '@tern/testing';
import { Redis } from 'ioredis';
import { channelsFile, dispatchFactory, follow, startConnector, type RunningConnector } from './harness';

const infra = infraFromEnv();
const logger = createLogger({ service: 'connector-test', level: 'error' });
const run = uniqueName('c');
const lane = run;

const world = (name: string, channels: string, timeline = '') =>
  parseScenario(`
name: ${name}
countries:
  - { code: SG, dialCode: '65', carriers: [{ id: sg-a, name: A, mccMnc: '52501', prefixes: ['6590'] }] }
channels:
${channels}
${timeline}
`);
const model = 'default: { deliveryRate: 1, latency: { p50: 200ms, p95: 400ms } }';
const main = world(
  'connector-test',
  `
  - { id: sim-dec, tier: direct, port: 0, systemId: dec, password: decpw, tps: 5000, window: 100, messageIdFormat: decimal, receiptIdFormat: hex, pricePerSegment: 0.01, countries: [SG], ${model} }
  - { id: sim-hex, tier: direct, port: 0, systemId: hex, password: hexpw, tps: 5000, window: 100, messageIdFormat: hex, receiptIdFormat: decimal, pricePerSegment: 0.01, countries: [SG], ${model} }
  - { id: sim-busy, tier: direct, port: 0, systemId: busy, password: busypw, tps: 20, window: 100, pricePerSegment: 0.01, countries: [SG], ${model} }
  - { id: sim-outage, tier: direct, port: 0, systemId: out, password: outpw, tps: 5000, pricePerSegment: 0.01, countries: [SG], ${model} }`,
);

const dispatch = dispatchFactory(run, lane);

describe('smpp-connector against the carrier simulator', () => {
  const arrived: ArrivedMessage[] = [];
  const sim = new CarrierSimulator({
    scenario: main,
    timeScale: 1,
    seed: 5,
    onMessage: (m) => arrived.push(m),
  });
  const client = new KafkaClient({
    brokers: infra.kafkaBrokers,
    clientId: 'connector-test',
    logger,
    topicNamespace: testNamespace(),
  });
  const submitted = new Map<string, events.SubmitResult>();
  const receipts: events.DeliveryReceipt[] = [];
  const inbound: events.InboundMessage[] = [];
  const retries: events.RetryRequest[] = [];
  const dlq: Record<string, Buffer | string | undefined>[] = [];
  let reader: { stop: () => Promise<void> };
  let connector: RunningConnector;
  const ready = () => connector.ready();
  const submittedFor = (ds: events.DispatchRequest[]) =>
    waitFor(
      `${ds.length} submissions`,
      () =>
        ds.every((d) => submitted.has(d.message?.messageId ?? '')) &&
        ds.map((d) => submitted.get(d.message?.messageId ?? '') as events.SubmitResult),
      60_000,
    );

  beforeAll(async () => {
    await sim.start();
    // Every platform topic, as an operator creates them: the connector writes more than the test reads.
    await ensurePlatformTopics([lane]);
    await client.producer().connect();
    reader = await follow(
      [
        topics.submitted.name,
        topics.dlr.name,
        topics.inbound.name,
        topics.retry.name,
        dispatchTopic(lane).dlq,
      ],
      (topic, value, headers) => {
        if (topic === topics.submitted.name) {
          const r = events.SubmitResult.decode(value);
          if (r.messageId.startsWith(run)) submitted.set(r.messageId, r);
        } else if (topic === topics.dlr.name) receipts.push(events.DeliveryReceipt.decode(value));
        else if (topic === topics.inbound.name) inbound.push(events.InboundMessage.decode(value));
        else if (topic === topics.retry.name) retries.push(events.RetryRequest.decode(value));
        else dlq.push(headers);
      },
    );
    const ports = sim.ports();
    const file = channelsFile([
      { id: 'sim-dec', port: ports['sim-dec'] ?? 0, systemId: 'dec', password: 'decpw', tpsPerBind: 1000 },
      { id: 'sim-hex', port: ports['sim-hex'] ?? 0, systemId: 'hex', password: 'hexpw', tpsPerBind: 1000 },
      // The connector allows itself 100/s per bind; the SMSC takes 20/s: it will be told to slow down.
      { id: 'sim-busy', port: ports['sim-busy'] ?? 0, systemId: 'busy', password: 'busypw', tpsPerBind: 100 },
      {
        id: 'sim-outage',
        port: ports['sim-outage'] ?? 0,
        systemId: 'out',
        password: 'outpw',
        tpsPerBind: 1000,
      },
    ]);
    connector = await startConnector({
      TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      TERN_REDIS_URL: infra.redisUrl,
      TERN_SMPP_CHANNELS_FILE: file.path,
      TERN_LANES: lane,
      // Longer than a 2.5 s outage and its reconnect back-off (ridden out), shorter than a 12 s one.
      TERN_SMPP_DOWN_FAILOVER_MS: '8000',
      ...file.env,
    });
    await waitFor('binds and consumer', async () => {
      const { checks } = await ready();
      const binds = ['smpp:sim-dec', 'smpp:sim-hex', 'smpp:sim-busy', 'smpp:sim-outage'].every(
        (c) => checks[c]?.ok,
      );
      return binds && checks[`kafka-consumer:${testClusterName(`tern-smpp-connector-${lane}`)}`]?.ok;
    });
  });

  afterAll(async () => {
    connector.process.kill('SIGTERM');
    expect(await connector.exited).toBe(0);
    await reader.stop();
    await client.disconnect();
    await sim.stop();
  });

  it('sends GSM-7, extension, UCS-2 and emoji texts of 1, 2 and 3 parts that reassemble exactly', async () => {
    const texts = [
      'Your code is 123456',
      `Order {A-1} costs €12 [paid]. ${'Thanks! '.repeat(18)}`,
      'g'.repeat(400),
      'Ваш код: 482913',
      'Код подтверждения 482913. '.repeat(4),
      '😀 Code 123456 🎉',
      `Welcome 👋 ${'🙂'.repeat(70)}`, // 151 UTF-16 units: 3 parts
    ];
    const ds = texts.map((t) => dispatch('sim-dec', t));
    await client.producer().send(dispatchTopic(lane), ds);
    const results = await submittedFor(ds);
    expect(results.every((r) => r.accepted)).toBe(true);
    expect(results.map((r) => r.smscMessageIds.length)).toEqual([1, 2, 3, 1, 2, 1, 3]);
    for (const d of ds) {
      const number = d.message?.to.slice(1);
      const got = await waitFor(`arrival at ${number}`, () => arrived.find((a) => a.number === number));
      expect(got.text).toBe(d.message?.body);
    }
  });

  it('turns receipts with decimal and hex ids into sms.dlr events', async () => {
    const ds = [dispatch('sim-dec', 'decimal ids'), dispatch('sim-hex', 'hex ids')];
    await client.producer().send(dispatchTopic(lane), ds);
    const [dec, hex] = await submittedFor(ds);
    const decId = dec?.smscMessageIds[0] ?? '';
    const hexId = hex?.smscMessageIds[0] ?? '';
    expect(decId).toMatch(/^\d+$/);
    expect(hexId).toMatch(/^[0-9A-F]+$/);
    // sim-dec answers in decimal and reports in hex; sim-hex the reverse. dlr normalises; the connector passes them on.
    const decReceipt = await waitFor('receipt of the decimal id', () =>
      receipts.find(
        (r) => r.channelId === 'sim-dec' && r.smscMessageId === BigInt(decId).toString(16).toUpperCase(),
      ),
    );
    const hexReceipt = await waitFor('receipt of the hex id', () =>
      receipts.find(
        (r) => r.channelId === 'sim-hex' && r.smscMessageId === BigInt(`0x${hexId}`).toString(10),
      ),
    );
    for (const r of [decReceipt, hexReceipt]) {
      expect(r.state).toBe(sms.ReceiptState.RECEIPT_STATE_DELIVRD);
      expect(r.errorCode).toBe('000');
      expect(r.doneDate).toBeInstanceOf(Date);
    }
  });

  it('slows down when throttled, tells the routers its queue, and gets every message accepted exactly once', async () => {
    const redis = new Redis(infra.redisUrl);
    const backlog = new ChannelBacklog(redis);
    try {
      const ds = Array.from({ length: 120 }, (_, i) => dispatch('sim-busy', `Code ${i}`));
      await client.producer().send(dispatchTopic(lane), ds);
      // 120 OTPs at the SMSC's 20 a second: the last wait about 6 s, and the routers hear of it.
      const queued = await waitFor('the queue reported', async () => {
        const wait = (await backlog.waits()).get('sim-busy');
        return wait && wait.urgentMs >= 1000 && wait;
      });
      expect(queued.bulkMs).toBeGreaterThanOrEqual(queued.urgentMs);
      const results = await submittedFor(ds);
      expect(results.every((r) => r.accepted)).toBe(true);
      const truth = sim.truth.channel('sim-busy');
      expect(truth.partsAccepted).toBe(120);
      expect(truth.submitsRefused['ESME_RTHROTTLED']).toBeGreaterThan(0);
      expect(truth.duplicates).toBe(0);
      // Drained, the channel is unmarked; the channels that kept up were never marked.
      await waitFor('the queue gone', async () => !(await backlog.waits()).has('sim-busy'));
      expect((await backlog.waits()).has('sim-dec')).toBe(false);
    } finally {
      await redis.quit();
    }
  });

  it('submits an OTP dispatched after a marketing backlog ahead of it, and the backlog in full after', async () => {
    const backlog = Array.from({ length: 4000 }, (_, i) =>
      dispatch('sim-dec', `Sale ${i}: 20% off`, { type: sms.MessageType.MESSAGE_TYPE_MARKETING }),
    );
    const otp = dispatch('sim-dec', 'Your code is 123456');
    await client.producer().send(dispatchTopic(lane), [...backlog, otp]);
    await submittedFor([otp]);
    // One group for both would take the OTP only once the records before it in its partition were in the
    // bind pool, beyond what the windows hold: after most of the backlog.
    const before = backlog.filter((d) => submitted.has(d.message!.messageId)).length;
    expect(before).toBeLessThan(backlog.length / 2);
    const results = await submittedFor(backlog);
    expect(results.every((r) => r.accepted)).toBe(true);
  });

  it('rides out an outage: reconnects, loses nothing, duplicates nothing', async () => {
    const ds: events.DispatchRequest[] = [];
    // 20 per second for 4 s; the channel goes down after 1 s for 2.5 s.
    for (let i = 0; i < 80; i++) {
      if (i === 20) sim.outage('sim-outage', 2500);
      const d = dispatch('sim-outage', `Code ${i}`);
      ds.push(d);
      await client.producer().send(dispatchTopic(lane), [d]);
      await new Promise((r) => setTimeout(r, 50));
    }
    const results = await submittedFor(ds);
    const truth = sim.truth.channel('sim-outage');
    const unknown = results.filter((r) => r.errorCode === 'OUTCOME_UNKNOWN');
    process.stdout.write(
      `outage: ${results.filter((r) => r.accepted).length} accepted, ${unknown.length} outcome unknown, ${truth.partsAccepted} at the SMSC, binds ${truth.bindsAccepted} accepted, refused ${JSON.stringify(truth.bindsRefused)}\n`,
    );
    // Each message reached the SMSC exactly once, except any whose bind was cut while its submit_sm was
    // out: those are reported OUTCOME_UNKNOWN (never resubmitted), and the SMSC holds at most one copy.
    expect(results.filter((r) => r.accepted).length + unknown.length).toBe(80);
    expect(truth.partsAccepted).toBeGreaterThanOrEqual(80 - unknown.length);
    expect(truth.partsAccepted).toBeLessThanOrEqual(80);
    expect(truth.duplicates).toBe(0);
    expect(truth.bindsRefused['ESME_RBINDFAIL']).toBeGreaterThan(0); // it tried during the outage...
    expect(truth.bindsAccepted).toBeGreaterThan(2); // ...and bound again after it
  });

  it('fails attempts over when their channel stays down, and sends none of them when it returns', async () => {
    // Longer than TERN_SMPP_DOWN_FAILOVER_MS (8 s): attempts must not wait for the channel, then burst out.
    sim.outage('sim-outage', 12_000);
    await waitFor('the binds to drop', async () => (await ready()).checks['smpp:sim-outage']?.ok === false);
    const before = sim.truth.channel('sim-outage').partsAccepted;
    const ds = Array.from({ length: 5 }, (_, i) => dispatch('sim-outage', `Down ${i}`));
    const sentAt = Date.now();
    await client.producer().send(dispatchTopic(lane), ds);
    const results = await submittedFor(ds);
    expect(Date.now() - sentAt).toBeLessThan(11_000);
    expect(results.map((r) => [r.accepted, r.errorCode, r.retryable])).toEqual(
      ds.map(() => [false, 'NO_BIND', true]),
    );
    await waitFor(
      'the channel to return',
      async () => (await ready()).checks['smpp:sim-outage']?.ok === true,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(sim.truth.channel('sim-outage').partsAccepted).toBe(before);
  });

  it('publishes a STOP reply to sms.inbound', async () => {
    sim.sendMobileOriginated('sim-dec', '6590999999', 'TernTest', 'STOP');
    const got = await waitFor('the STOP on sms.inbound', () => inbound.find((m) => m.from === '6590999999'));
    expect(got).toMatchObject({ channelId: 'sim-dec', to: 'TernTest', body: 'STOP' });
  });

  it('reports a permanent refusal and asks the router for another channel', async () => {
    // No carrier of the simulated world owns this number: the SMSC answers ESME_RINVDSTADR.
    const d = dispatch('sim-dec', 'x', { to: '+4915112345678' });
    await client.producer().send(dispatchTopic(lane), [d]);
    const [result] = await submittedFor([d]);
    expect(result).toMatchObject({
      accepted: false,
      retryable: true,
      errorCode: 'INVALID_DESTINATION',
      commandStatus: 0x0b,
    });
    const retry = await waitFor('the retry request', () =>
      retries.find((r) => r.message?.messageId === d.message?.messageId),
    );
    expect(retry).toMatchObject({
      failedAttempt: 1,
      triedChannelIds: ['sim-dec'],
      reason: { code: 'INVALID_DESTINATION', retryable: true },
    });
  });

  it("measures a first attempt's way from acceptance to the carrier, per class, from a schedule's send time", async () => {
    /** The histogram's count and sum for a class, from the connector's /metrics. */
    const observed = async (trafficClass: string) => {
      const text = await (await fetch(`http://127.0.0.1:${connector.httpPort}/metrics`)).text();
      const value = (series: string) =>
        Number(
          text
            .split('\n')
            .find(
              (l) =>
                l.startsWith(`tern_smpp_accept_to_submitted_seconds_${series}{`) &&
                l.includes(`class="${trafficClass}"`),
            )
            ?.split(' ')
            .at(-1) ?? 0,
        );
      return { count: value('count'), sum: value('sum') };
    };
    const before = { priority: await observed('priority'), bulk: await observed('bulk') };
    const now = Date.now();
    const otp = dispatch('sim-dec', 'Your code is 908172', { acceptedAt: new Date(now - 2_000) });
    // A campaign accepted 60 s ago for a send time 1 s ago: its wait for the schedule is not the platform's.
    const campaign = dispatch('sim-dec', 'Sale today', {
      type: sms.MessageType.MESSAGE_TYPE_MARKETING,
      acceptedAt: new Date(now - 60_000),
      notBefore: new Date(now - 1_000),
    });
    // A retry's time includes its failed attempt's: not counted.
    const retry = {
      ...dispatch('sim-dec', 'Your code is 112233', { acceptedAt: new Date(now - 30_000) }),
      attempt: 2,
    };
    await client.producer().send(dispatchTopic(lane), [otp, campaign, retry]);
    expect((await submittedFor([otp, campaign, retry])).every((r) => r.accepted)).toBe(true);
    const after = { priority: await observed('priority'), bulk: await observed('bulk') };
    expect(after.priority.count - before.priority.count).toBe(1);
    expect(after.priority.sum - before.priority.sum).toBeGreaterThanOrEqual(2);
    expect(after.priority.sum - before.priority.sum).toBeLessThan(30);
    expect(after.bulk.count - before.bulk.count).toBe(1);
    expect(after.bulk.sum - before.bulk.sum).toBeGreaterThanOrEqual(1);
    expect(after.bulk.sum - before.bulk.sum).toBeLessThan(60);
  });

  it('never writes an SMPP password to its logs', () => {
    const logs = connector.logs.map((l) => JSON.stringify(l)).join('\n');
    expect(logs).toContain('"msg":"bound"');
    for (const secret of ['decpw', 'hexpw', 'busypw', 'outpw']) expect(logs).not.toContain(secret);
  });

  it('fails an attempt on a channel it does not serve over to another channel, not to the DLQ', async () => {
    // What a dispatch meets while a channel is added or removed: the router's table and the connector's
    // channels disagree for a while.
    const d = dispatch('no-such-channel', 'x');
    await client.producer().send(dispatchTopic(lane), [d]);
    const [result] = await submittedFor([d]);
    expect([result?.accepted, result?.errorCode, result?.retryable]).toEqual([
      false,
      'CHANNEL_NOT_SERVED',
      true,
    ]);
    const retry = await waitFor('the retry request', () =>
      retries.find((r) => r.message?.messageId === d.message?.messageId),
    );
    expect(retry).toMatchObject({ failedAttempt: d.attempt, triedChannelIds: ['no-such-channel'] });
    expect(dlq.map((h) => h[DLQ_HEADERS.reason]?.toString())).toEqual([]);
    // Counted for the alert that says the routing table and a lane's channels disagree for good.
    const metrics = await (await fetch(`http://127.0.0.1:${connector.httpPort}/metrics`)).text();
    expect(metrics).toMatch(/^tern_smpp_unserved_dispatches_total\{channel="no-such-channel"[^}]*\} 1$/m);
  });
});
