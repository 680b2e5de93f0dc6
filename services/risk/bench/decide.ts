// Screening decisions per second with the full local policy (deploy/local/risk-policy.yaml):
//   static  screenStatic alone (sender, content, ranges, hours), `--decisions` times, no I/O
//   burst   `--messages` accepted messages published at once through the built service (pnpm build) on the
//           local Kafka and Redis; rate = messages / (last decision - first publish); p50/p99 of
//           publish -> decision. A mix of OTP (80%) and marketing, to many numbers in ID and VN. With
//           risk's CPU and the Redis server's (its threads', INFO cpu) per message: nothing else may use
//           that Redis meanwhile (./tern down first).
//   pnpm --filter @tern/risk bench --messages 20000
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadDataFile } from '@tern/config';
import { events, sms } from '@tern/contracts';
import { topics, type TopicDef } from '@tern/kafka';
import {
  benchRedis,
  cpuMeter,
  closeTestProducer,
  deleteNamespaceTopics,
  ensurePlatformTopics,
  followTopics,
  infraFromEnv,
  publishValues,
  startServiceProcess,
  TOPIC_NAMESPACE_ENV,
  uniqueName,
  waitFor,
} from '@tern/testing';
import { riskPolicySchema } from '../src/domain/policy';
import { screenStatic } from '../src/domain/screen';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    decisions: { type: 'string', default: '200000' },
  },
});
const POLICY = join(__dirname, '..', '..', '..', 'deploy', 'local', 'risk-policy.yaml');
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

function traffic(run: string, n: number): events.SmsMessage[] {
  return Array.from({ length: n }, (_, i) => {
    const marketing = i % 5 === 0;
    const vietnam = i % 3 === 0;
    return events.SmsMessage.fromPartial({
      messageId: `${run}-${i}`,
      tenantId: 'demo',
      to: vietnam
        ? `+8496${String(1_000_000 + i * 37).slice(-7)}`
        : `+62812${String(10_000_000 + i * 7919).slice(-8)}`,
      // The local policy's OTP sender, and a marketing sender registered in ID only (refused in VN).
      from: marketing ? 'TernShop' : 'Tern',
      senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
      body: marketing
        ? 'Flash sale today: 30% off at shop.example.com. Reply STOP to opt out'
        : `Your code is ${100000 + i}`,
      type: marketing ? sms.MessageType.MESSAGE_TYPE_MARKETING : sms.MessageType.MESSAGE_TYPE_OTP,
      country: vietnam ? 'VN' : 'ID',
      segments: 1,
      acceptedAt: new Date(),
      expiresAt: new Date(Date.now() + 600_000),
    });
  });
}

function benchStatic(): void {
  const policy = loadDataFile(POLICY, riskPolicySchema, 'risk policy');
  const n = Number(values.decisions);
  const messages = traffic('static', 1000);
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) screenStatic(messages[i % messages.length]!, policy, Date.now());
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `${JSON.stringify({ mode: 'static', decisions: n, perSecond: Math.round(n / seconds) })}\n`,
  );
}

async function main(): Promise<void> {
  benchStatic();
  const infra = infraFromEnv();
  const run = uniqueName('rkbench');
  // Topics of its own (deleted at the end): its reader starts at a topic's beginning, and reading through
  // what a local platform wrote to sms.status first held every decision back until the last (p50 = p99).
  process.env[TOPIC_NAMESPACE_ENV] = run;
  await ensurePlatformTopics();
  const decidedAt = new Map<string, number>();
  const { stop } = await followTopics(
    [topics.approved, topics.status] as TopicDef<unknown>[],
    (topic, value) => {
      const id =
        topic === topics.approved.name
          ? (value as events.MessageApproved).message?.messageId
          : (value as sms.StatusEvent).status === sms.MessageStatus.MESSAGE_STATUS_REJECTED
            ? (value as sms.StatusEvent).messageId
            : undefined;
      if (id?.startsWith(run)) decidedAt.set(id, Date.now());
    },
  );
  const redis = await benchRedis(infra.redisUrl);
  const service = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: redis.url,
    TERN_RISK_POLICY_FILE: POLICY,
    TERN_RISK_DEPLOYMENT: run,
    TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
    ...(process.env.RISK_NODE_OPTIONS ? { NODE_OPTIONS: process.env.RISK_NODE_OPTIONS } : {}),
  });
  try {
    await waitFor('risk to be ready', async () => (await service.ready()).status === 200, 60_000);
    const total = Number(values.messages);
    const messages = traffic(run, total);
    // risk's CPU and the Redis server's (the benchmarks' database), per message.
    const cpu = await cpuMeter({ risk: service, redis });
    const started = Date.now();
    await publishValues(
      topics.accepted,
      messages.map((message) => ({ message })),
    );
    await waitFor('every decision', () => decidedAt.size >= total, 600_000, 50);
    const times = [...decidedAt.values()];
    const ms = Math.max(...times) - started;
    const latencies = times.map((t) => t - started).sort((a, b) => a - b);
    const used = await cpu(total);
    process.stdout.write(
      `${JSON.stringify({
        mode: 'burst',
        messages: total,
        seconds: +(ms / 1000).toFixed(2),
        perSecond: Math.round(total / (ms / 1000)),
        p50Ms: quantile(latencies, 0.5),
        p99Ms: quantile(latencies, 0.99),
        cpuMsPerMessage: used.risk,
        redisCpuMsPerMessage: used.redis,
      })}\n`,
    );
  } finally {
    await service.stop();
    await redis.clear();
    await stop();
    await closeTestProducer();
    await deleteNamespaceTopics(run);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
