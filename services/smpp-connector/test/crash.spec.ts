import { CarrierSimulator, parseScenario } from '@tern/carrier-sim';
import { events } from '@tern/contracts';
import { dispatchTopic, KafkaClient, topics } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';
import { ensurePlatformTopics, infraFromEnv, testNamespace, uniqueName, waitFor } from '@tern/testing';
import { channelsFile, dispatchFactory, follow, startConnector, type RunningConnector } from './harness';

const MESSAGES = 10_000;
const infra = infraFromEnv();
const logger = createLogger({ service: 'connector-crash-test', level: 'error' });
const run = uniqueName('k');
const lane = run;

const scenario = parseScenario(`
name: crash-test
countries:
  - { code: SG, dialCode: '65', carriers: [{ id: sg-a, name: A, mccMnc: '52501', prefixes: ['6590'] }] }
channels:
  - { id: sim-crash, tier: direct, port: 0, systemId: crash, password: crashpw, maxBinds: 8, tps: 100000, window: 200,
      pricePerSegment: 0.01, countries: [SG], default: { deliveryRate: 1, latency: { p50: 500ms, p95: 1s } } }
`);

describe('a connector killed with SIGKILL during 10,000 messages, then restarted', () => {
  const perNumber = new Map<string, number>();
  const sim = new CarrierSimulator({
    scenario,
    timeScale: 1,
    seed: 17,
    onMessage: (m) => perNumber.set(m.number, (perNumber.get(m.number) ?? 0) + 1),
  });
  const client = new KafkaClient({
    brokers: infra.kafkaBrokers,
    clientId: 'connector-crash-test',
    logger,
    topicNamespace: testNamespace(),
  });
  const results = new Map<string, events.SubmitResult[]>();
  const retried = new Set<string>();
  let reader: { stop: () => Promise<void> };
  const running: RunningConnector[] = [];

  beforeAll(async () => {
    await sim.start();
    // Every platform topic, as an operator creates them: the connector writes more than the test reads.
    await ensurePlatformTopics([lane]);
    await client.producer().connect();
    reader = await follow([topics.submitted.name, topics.retry.name], (topic, value) => {
      if (topic === topics.retry.name) {
        const id = events.RetryRequest.decode(value).message?.messageId ?? '';
        if (id.startsWith(run)) retried.add(id);
        return;
      }
      const r = events.SubmitResult.decode(value);
      if (r.messageId.startsWith(run)) results.set(r.messageId, [...(results.get(r.messageId) ?? []), r]);
    });
  });

  afterAll(async () => {
    for (const c of running) c.process.kill('SIGKILL');
    await reader.stop();
    await client.disconnect();
    await sim.stop();
  });

  it('has every message at the SMSC exactly once, or reported as OUTCOME_UNKNOWN', async () => {
    const file = channelsFile([
      {
        id: 'sim-crash',
        port: sim.ports()['sim-crash'] ?? 0,
        systemId: 'crash',
        password: 'crashpw',
        tpsPerBind: 5000,
        binds: 2,
        window: 50,
      },
    ]);
    const env = {
      TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      TERN_REDIS_URL: infra.redisUrl,
      TERN_SMPP_CHANNELS_FILE: file.path,
      TERN_LANES: lane,
      // The killed instance's partitions move to the new one after this long.
      TERN_KAFKA_SESSION_TIMEOUT_MS: '8000',
      ...file.env,
    };
    const dispatch = dispatchFactory(run, lane);
    const ds = Array.from({ length: MESSAGES }, (_, i) =>
      dispatch('sim-crash', `Your code is ${String(i).padStart(6, '0')}`),
    );
    for (let i = 0; i < ds.length; i += 1000)
      await client.producer().send(dispatchTopic(lane), ds.slice(i, i + 1000));

    const started = Date.now();
    const first = await startConnector(env);
    running.push(first);
    await waitFor(
      'a third of the messages at the SMSC',
      () => sim.truth.channel('sim-crash').partsAccepted >= MESSAGES / 3,
      90_000,
      20,
    );
    first.process.kill('SIGKILL');
    await first.exited;
    const atKill = sim.truth.channel('sim-crash').partsAccepted;

    const second = await startConnector(env);
    running.push(second);
    await waitFor('an outcome for every message', () => results.size === MESSAGES, 110_000, 200);
    const seconds = (Date.now() - started) / 1000;

    const outcomes = [...results.values()];
    const unknown = outcomes.filter((rs) => rs.some((r) => r.errorCode === 'OUTCOME_UNKNOWN'));
    const accepted = outcomes.filter((rs) => rs.some((r) => r.accepted));
    const truth = sim.truth.channel('sim-crash');
    const atSmsc = [...perNumber.values()];
    const twice = atSmsc.filter((n) => n > 1).length;
    const unknownAtSmsc = unknown.filter((rs) => perNumber.has(numberOf(rs[0]))).length;
    process.stdout.write(
      `crash: ${MESSAGES} messages in ${seconds.toFixed(1)} s; ${atKill} at the SMSC when killed; ` +
        `${accepted.length} accepted, ${unknown.length} OUTCOME_UNKNOWN (${unknownAtSmsc} of them reached the SMSC); ` +
        `SMSC: ${truth.partsAccepted} submissions, ${perNumber.size} numbers, ${twice} received twice, duplicates ${truth.duplicates}\n`,
    );
    expect(accepted.length + unknown.length).toBe(MESSAGES);
    expect(twice).toBe(0);
    expect(truth.duplicates).toBe(0);
    expect(truth.partsAccepted).toBe(perNumber.size);
    // Everything accepted is at the SMSC; the only messages that may be missing there are the reported unknowns.
    expect(perNumber.size).toBeGreaterThanOrEqual(accepted.length);
    expect(perNumber.size).toBeLessThanOrEqual(MESSAGES);
    expect(MESSAGES - perNumber.size).toBeLessThanOrEqual(unknown.length);
    // Most of those reached the SMSC: the connector asks for no retry of them (dlr does, if no receipt
    // comes). A retry would follow its outcome within milliseconds; it is given two seconds to show.
    await new Promise((r) => setTimeout(r, 2000));
    expect(unknown.map((rs) => rs[0]!.messageId).filter((id) => retried.has(id))).toEqual([]);
  });

  /** The destination number (digits) of a message, as the dispatch factory numbered it. */
  function numberOf(result: events.SubmitResult | undefined): string {
    const serial = Number(result?.messageId.slice(run.length + 1));
    return `6590${String(serial).padStart(7, '0')}`;
  }
});
