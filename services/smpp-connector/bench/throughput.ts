// Sustained submit_sm per second through the connector: dispatches from Kafka, attempt claims in Redis,
// submit_sm to the simulator, sms.submitted back to Kafka. Prints one JSON line, with the connector's CPU and the
// Redis server's (its threads', INFO cpu) per message: nothing else may use that Redis meanwhile.
//   pnpm --filter @tern/smpp-connector bench --messages 20000 --binds 2 --window 50 --tps 5000
// Needs the local infrastructure (TERN_KAFKA_BROKERS, TERN_REDIS_URL) and a build (pnpm build).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { events } from '@tern/contracts';
import { dispatchTopic, KafkaClient, topics } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';
import {
  benchRedis,
  cpuMeter,
  deleteNamespaceTopics,
  ensurePlatformTopics,
  infraFromEnv,
  TOPIC_NAMESPACE_ENV,
  uniqueName,
  waitFor,
} from '@tern/testing';
import { channelsFile, dispatchFactory, follow, startConnector } from '../test/harness';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    binds: { type: 'string', default: '2' },
    window: { type: 'string', default: '50' },
    tps: { type: 'string', default: '5000' },
  },
});
const messages = Number(values.messages);
const binds = Number(values.binds);
const window = Number(values.window);
const tps = Number(values.tps);

async function main(): Promise<void> {
  const infra = infraFromEnv();
  const logger = createLogger({ service: 'connector-bench', level: 'error' });
  const simCli = join(__dirname, '..', '..', '..', 'tools', 'carrier-sim', 'dist', 'cli.js');
  const scenario = join(__dirname, '..', '..', '..', 'tools', 'carrier-sim', 'bench', 'bench-scenario.yaml');
  const sim = spawn(
    process.execPath,
    [simCli, '--scenario', scenario, '--time-scale', '100', '--http-port', '0'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => sim.stdout.once('data', () => resolve()));
  try {
    await measure(infra, logger);
  } finally {
    sim.kill('SIGTERM');
  }
}

async function measure(
  infra: ReturnType<typeof infraFromEnv>,
  logger: ReturnType<typeof createLogger>,
): Promise<void> {
  const run = uniqueName('b');
  // Topics of its own (deleted at the end), so its reader starts at a topic's beginning without reading
  // through what a local platform wrote to sms.submitted (35 s of it after a few ./tern bench runs).
  process.env[TOPIC_NAMESPACE_ENV] = run;
  await ensurePlatformTopics([run]);
  const client = new KafkaClient({
    brokers: infra.kafkaBrokers,
    clientId: 'connector-bench',
    logger,
    topicNamespace: run,
  });
  await client.producer().connect();
  let accepted = 0;
  let done = 0;
  const reader = await follow([topics.submitted.name], (_t, value) => {
    const r = events.SubmitResult.decode(value);
    if (!r.messageId.startsWith(run)) return;
    done++;
    if (r.accepted) accepted++;
  });
  const file = channelsFile([
    { id: 'bench', port: 12899, systemId: 'bench', password: 'bench', tpsPerBind: tps, binds, window },
  ]);
  const redis = await benchRedis(infra.redisUrl);
  const connector = await startConnector({
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: redis.url,
    TERN_SMPP_CHANNELS_FILE: file.path,
    TERN_LANES: run,
    ...file.env,
  });
  await waitFor('the binds', async () => (await connector.ready()).checks['smpp:bench']?.ok, 30_000);
  // The connector's CPU and the Redis server's (the benchmarks' database), per message: from its binds
  // being up, so published only now (published before it started, they were all done before it was seen
  // ready on some runs). The producer is faster than the connector, so they still wait as a backlog.
  const cpu = await cpuMeter({ connector, redis });
  const started = Date.now();
  const dispatch = dispatchFactory(run, run);
  for (let i = 0; i < messages; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, messages - i) }, (_, k) =>
      dispatch('bench', `Your code is ${String(i + k).padStart(6, '0')}`),
    );
    await client.producer().send(dispatchTopic(run), batch);
  }
  const firstAt = await waitFor('the first outcome', () => done > 0 && Date.now(), 60_000, 5);
  await waitFor('every outcome', () => done >= messages, 600_000, 50);
  const seconds = (Date.now() - firstAt) / 1000;
  const used = await cpu(messages);
  process.stdout.write(
    `${JSON.stringify({
      messages,
      binds,
      windowPerBind: window,
      tpsPerBind: tps,
      accepted,
      seconds: +seconds.toFixed(2),
      submitsPerSecond: Math.round(messages / seconds),
      perBind: Math.round(messages / seconds / binds),
      firstOutcomeAfterPublishMs: firstAt - started,
      cpuMsPerMessage: used.connector,
      redisCpuMsPerMessage: used.redis,
    })}\n`,
  );
  connector.process.kill('SIGTERM');
  await connector.exited;
  await redis.clear();
  await reader.stop();
  await client.disconnect();
  await deleteNamespaceTopics(run);
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exit(1);
});
