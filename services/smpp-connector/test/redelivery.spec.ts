import { CarrierSimulator, parseScenario } from '@tern/carrier-sim';
import { events } from '@tern/contracts';
import { dispatchTopic, KafkaClient, topics } from '@tern/kafka';
import { sharedRedis } from '@tern/redis';
import { createLogger } from '@tern/telemetry';
import {
  ensurePlatformTopics,
  freePort,
  infraFromEnv,
  testNamespace,
  uniqueName,
  waitFor,
} from '@tern/testing';
import { AttemptStore } from '../src/attempt-store';
import { channelsFile, dispatchFactory, follow, startConnector, type RunningConnector } from './harness';

const infra = infraFromEnv();
const logger = createLogger({ service: 'connector-redelivery-test', level: 'error' });
const run = uniqueName('rd');
const lane = run;

// An SMSC that takes 1.5 s to answer each submit_sm: long enough for a copy of a dispatch to arrive while
// the first is on the wire, and longer than the late-answer test's 500 ms response timeout.
const scenario = parseScenario(`
name: redelivery-test
countries:
  - { code: SG, dialCode: '65', carriers: [{ id: sg-a, name: A, mccMnc: '52501', prefixes: ['6590'] }] }
channels:
  - { id: sim-slow, tier: direct, port: 0, systemId: slow, password: slowpw, maxBinds: 8, tps: 1000, window: 50,
      submitDelayMs: 1500, pricePerSegment: 0.01, countries: [SG],
      default: { deliveryRate: 1, latency: { p50: 500ms, p95: 1s } } }
`);

describe('the connector never submits an attempt twice', () => {
  const perNumber = new Map<string, number>();
  const sim = new CarrierSimulator({
    scenario,
    timeScale: 1,
    seed: 23,
    onMessage: (m) => perNumber.set(m.number, (perNumber.get(m.number) ?? 0) + 1),
  });
  const client = new KafkaClient({
    brokers: infra.kafkaBrokers,
    clientId: 'connector-redelivery',
    logger,
    topicNamespace: testNamespace(),
  });
  const results = new Map<string, events.SubmitResult[]>();
  const retries: string[] = [];
  let reader: { stop: () => Promise<void> };
  let connector: RunningConnector | undefined;
  const dispatch = dispatchFactory(run, lane);
  const redis = sharedRedis({ redisUrl: infra.redisUrl });

  beforeAll(async () => {
    await sim.start();
    // Every platform topic, as an operator creates them: the connector writes more than the test reads.
    await ensurePlatformTopics([lane]);
    await client.producer().connect();
    reader = await follow([topics.submitted.name, topics.retry.name], (topic, value) => {
      if (topic === topics.retry.name) {
        const r = events.RetryRequest.decode(value);
        if (r.message?.messageId.startsWith(run)) retries.push(r.message.messageId);
        return;
      }
      const r = events.SubmitResult.decode(value);
      if (r.messageId.startsWith(run)) results.set(r.messageId, [...(results.get(r.messageId) ?? []), r]);
    });
  });

  afterEach(async () => {
    await connector?.stop();
    connector = undefined;
  });

  afterAll(async () => {
    await reader.stop();
    await client.disconnect();
    await redis.quit();
    await sim.stop();
  });

  /** A connector on the slow SMSC, or (`port`) where no SMSC listens. */
  const start = async (responseTimeoutMs: number, { port = sim.ports()['sim-slow'] ?? 0, env = {} } = {}) => {
    const file = channelsFile([
      {
        id: 'sim-slow',
        port,
        systemId: 'slow',
        password: 'slowpw',
        tpsPerBind: 500,
        binds: 1,
        responseTimeoutMs,
      },
    ]);
    connector = await startConnector({
      TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      TERN_REDIS_URL: infra.redisUrl,
      TERN_SMPP_CHANNELS_FILE: file.path,
      TERN_LANES: lane,
      ...file.env,
      ...env,
    });
    // Where no SMSC listens, ready but for its bind.
    const bindless = port !== sim.ports()['sim-slow'];
    await waitFor(
      'the connector ready',
      async () => {
        const { status, checks } = await connector!.ready();
        return (
          status === 200 ||
          (bindless && Object.entries(checks).every(([n, c]) => c.ok || n === 'smpp:sim-slow'))
        );
      },
      60_000,
    );
  };
  const numberOf = (d: events.DispatchRequest) => d.message!.to.slice(1);

  it('waits for the outcome of a copy in flight (a router that published its dispatch twice)', async () => {
    await start(3000);
    const validityMs = 10 * 60_000;
    const first = dispatch('sim-slow', 'Your code is 111111', {
      expiresAt: new Date(Date.now() + validityMs),
    });
    const id = first.message!.messageId;
    await client.producer().send(dispatchTopic(lane), [first]);
    // The copy comes while the first is on the wire: claimed, its answer 1.5 s away.
    await waitFor(
      'the first copy claimed',
      async () => (await redis.exists(`tern:smpp:attempt:${id}:1`)) === 1,
    );
    await client.producer().send(dispatchTopic(lane), [first]);
    await waitFor('both copies answered', () => (results.get(id) ?? []).length === 2, 30_000);
    expect(results.get(id)!.map((r) => [r.accepted, r.errorCode])).toEqual([
      [true, ''],
      [true, ''],
    ]);
    expect(perNumber.get(numberOf(first))).toBe(1);
    expect(retries).not.toContain(id);
    // The outcome is kept while a copy can come (until the message expires), then an hour: not a week.
    const keptMs = await redis.pttl(`tern:smpp:attempt:${id}:1`);
    expect(keptMs).toBeLessThanOrEqual(validityMs + 3_600_000);
    expect(keptMs).toBeGreaterThan(validityMs + 3_600_000 - 60_000);
  });

  it('publishes the outcome of a copy that claimed the attempt first, and lets its claim be', async () => {
    // Two copies of a dispatch started together (a router that published it twice, a rebalance overlap): both
    // find the attempt new and reach a bind, one claims it. The other must publish that run's outcome before
    // its record is committed (the run that claimed may stop before it publishes), and must not call the
    // claim in doubt meanwhile: that would fail the attempt over and send the SMS twice.
    await start(3000);
    const copy = dispatch('sim-slow', 'Your code is 444444');
    const id = copy.message!.messageId;
    await client.producer().send(dispatchTopic(lane), [copy, copy]);
    await waitFor('both copies answered', () => (results.get(id) ?? []).length === 2, 30_000);
    expect(results.get(id)!.map((r) => [r.accepted, r.errorCode])).toEqual([
      [true, ''],
      [true, ''],
    ]);
    expect(perNumber.get(numberOf(copy))).toBe(1);
    expect(retries).not.toContain(id);
  });

  it('publishes the outcome of an attempt submitted before, delivered again while its channel is down', async () => {
    await start(3000);
    const sent = dispatch('sim-slow', 'Your code is 555555');
    const id = sent.message!.messageId;
    await client.producer().send(dispatchTopic(lane), [sent]);
    await waitFor('its outcome', () => results.has(id), 30_000);
    await connector!.stop();

    // Delivered again (a crash before the commit) to a connector whose channel has no bind: the outcome
    // recorded stands; it is not failed as NO_BIND, which would fail the attempt over and send it twice.
    await start(3000, { port: await freePort(), env: { TERN_SMPP_DOWN_FAILOVER_MS: '1000' } });
    await client.producer().send(dispatchTopic(lane), [sent]);
    await waitFor('its outcome again', () => (results.get(id) ?? []).length === 2, 30_000);
    const [first, again] = results.get(id)!;
    expect([again!.accepted, again!.errorCode, again!.smscMessageIds]).toEqual([
      true,
      '',
      first!.smscMessageIds,
    ]);
    expect(perNumber.get(numberOf(sent))).toBe(1);
    expect(retries).not.toContain(id);
  });

  it('republishes an outcome stored without its message with the message of the dispatch delivered again', async () => {
    await start(3000);
    const sent = dispatch('sim-slow', 'Your code is 777777');
    const id = sent.message!.messageId;
    // An outcome as a later version may store it, without the message (operations.md, Upgrading).
    const stored = events.SubmitResult.fromPartial({
      messageId: id,
      attempt: 1,
      channelId: 'sim-slow',
      smscMessageIds: ['stored-1'],
      accepted: true,
      submittedAt: new Date(),
    });
    await new AttemptStore(redis).finish(stored, 60_000);
    await client.producer().send(dispatchTopic(lane), [sent]);
    await waitFor('its outcome', () => results.has(id), 30_000);
    const [again] = results.get(id)!;
    expect(again!.smscMessageIds).toEqual(['stored-1']);
    expect([again!.message?.messageId, again!.message?.to, again!.message?.body]).toEqual([
      id,
      sent.message!.to,
      sent.message!.body,
    ]);
    expect(perNumber.get(numberOf(sent))).toBeUndefined();
  });

  it('takes a submit_sm_resp that comes after the response timeout as the answer', async () => {
    await start(500);
    const late = dispatch('sim-slow', 'Your code is 222222');
    await client.producer().send(dispatchTopic(lane), [late]);
    await waitFor('its outcome', () => results.has(late.message!.messageId), 30_000);
    expect(results.get(late.message!.messageId)!.map((r) => [r.accepted, r.errorCode])).toEqual([[true, '']]);
    expect(perNumber.get(numberOf(late))).toBe(1);
    // Not failed over: no second attempt is asked for.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(retries).not.toContain(late.message!.messageId);
  });
});
