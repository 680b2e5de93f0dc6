// Receipts correlated per second, end to end, through the built dlr (pnpm build) on the local Kafka, Redis
// and ClickHouse:
//   1. `--messages` accepted submissions are published and dlr reports each SUBMITTED (timed too);
//   2. one receipt per message (a third of them with the id in hex, 1 in 10 UNDELIV) is published at once;
//      rate = receipts / (last final status - first receipt published), with p50/p99 of publish -> status;
//   3. the attempt rows are counted in ClickHouse until every one is there.
// Each phase also prints dlr's CPU per message (its process_cpu_seconds_total, over the phase) and the Redis
// server's (its threads', INFO cpu): nothing else may use that Redis meanwhile (./tern down first).
//   pnpm --filter @tern/dlr bench --messages 20000
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ClickHouse, identifier, sql } from '@tern/clickhouse';
import { events, sms } from '@tern/contracts';
import { topics, type TopicDef } from '@tern/kafka';
import {
  closeTestProducer,
  benchRedis,
  cpuMeter,
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

const { values } = parseArgs({ options: { messages: { type: 'string', default: '20000' } } });
const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
const print = (line: object) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function main(): Promise<void> {
  const infra = infraFromEnv();
  const total = Number(values.messages);
  const run = uniqueName('dlbench');
  const database = `bench_${run.replace(/-/g, '_')}`;
  const channelId = `bench-${run}`;
  // Topics of its own (deleted at the end): a local platform's dlr would otherwise read the bench's records.
  process.env[TOPIC_NAMESPACE_ENV] = run;
  await ensurePlatformTopics();

  const submittedAt = new Map<string, number>();
  const finalAt = new Map<string, number>();
  const { stop } = await followTopics([topics.status] as TopicDef<unknown>[], (_topic, value) => {
    const event = value as sms.StatusEvent;
    if (!event.messageId.startsWith(run)) return;
    if (event.status === sms.MessageStatus.MESSAGE_STATUS_SUBMITTED)
      submittedAt.set(event.messageId, Date.now());
    else finalAt.set(event.messageId, Date.now());
  });
  const tenants = join(mkdtempSync(join(tmpdir(), 'dlr-bench-')), 'tenants.yaml');
  writeFileSync(tenants, 'tenants:\n  - { id: bench, sendRate: { perSecond: 1, burst: 1 } }\n');
  const redis = await benchRedis(infra.redisUrl);
  const service = await startServiceProcess(join(__dirname, '..', 'dist', 'main.js'), {
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: redis.url,
    TERN_CLICKHOUSE_URL: infra.clickhouseUrl,
    TERN_CLICKHOUSE_DATABASE: database,
    TERN_ANALYTICS_HASH_KEY: 'bench-analytics-hash-key',
    TERN_TENANTS_FILE: tenants,
    TERN_DLR_DEPLOYMENT: run,
    TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
    // e.g. DLR_NODE_OPTIONS=--cpu-prof to profile the service under this load
    ...(process.env.DLR_NODE_OPTIONS ? { NODE_OPTIONS: process.env.DLR_NODE_OPTIONS } : {}),
  });
  const clickhouse = new ClickHouse({ url: infra.clickhouseUrl, database: 'default' });
  try {
    await waitFor('dlr to be ready', async () => (await service.ready()).status === 200, 60_000);
    const smscId = (i: number) => String(100_000_000 + i);
    const submissions = Array.from({ length: total }, (_, i) => {
      const messageId = `${run}-${i}`;
      return events.SubmitResult.fromPartial({
        messageId,
        attempt: 1,
        channelId,
        tier: 'direct',
        pricePerSegment: 0.03,
        smscMessageIds: [smscId(i)],
        accepted: true,
        submittedAt: new Date(),
        message: events.SmsMessage.fromPartial({
          messageId,
          tenantId: 'bench',
          to: `+6591${String(i).padStart(6, '0')}`,
          type: sms.MessageType.MESSAGE_TYPE_OTP,
          country: 'SG',
          segments: 1,
          acceptedAt: new Date(),
          expiresAt: new Date(Date.now() + 3_600_000),
        }),
      });
    });
    // dlr's CPU and the Redis server's (the benchmarks' database), per message of each phase.
    let cpu = await cpuMeter({ dlr: service, redis });
    let started = Date.now();
    await publishValues(topics.submitted, submissions);
    await waitFor('every SUBMITTED', () => submittedAt.size >= total, 600_000, 50);
    const submitMs = Math.max(...submittedAt.values()) - started;
    const submissionsCpu = await cpu(total);
    print({
      phase: 'submissions',
      messages: total,
      seconds: +(submitMs / 1000).toFixed(2),
      perSecond: Math.round(total / (submitMs / 1000)),
      cpuMsPerSubmission: submissionsCpu.dlr,
      redisCpuMsPerSubmission: submissionsCpu.redis,
    });
    cpu = await cpuMeter({ dlr: service, redis });

    const receipts = submissions.map((s, i): events.DeliveryReceipt => ({
      channelId,
      // A third of the SMSCs answer in decimal and report in hex.
      smscMessageId: i % 3 === 0 ? Number(smscId(i)).toString(16).toUpperCase() : smscId(i),
      state: i % 10 === 0 ? sms.ReceiptState.RECEIPT_STATE_UNDELIV : sms.ReceiptState.RECEIPT_STATE_DELIVRD,
      errorCode: i % 10 === 0 ? '027' : '000',
      submitDate: s.submittedAt,
      doneDate: new Date(),
      receivedAt: new Date(),
      handset: (s.message?.to ?? '').replace('+', ''),
    }));
    started = Date.now();
    await publishValues(topics.dlr, receipts);
    await waitFor('every final status', () => finalAt.size >= total, 600_000, 50);
    const times = [...finalAt.values()];
    const ms = Math.max(...times) - started;
    const latencies = times.map((t) => t - started).sort((a, b) => a - b);
    // Until the last final status: the attempt rows' inserts may still be on their way.
    const receiptsCpu = await cpu(total);
    print({
      phase: 'receipts',
      receipts: total,
      seconds: +(ms / 1000).toFixed(2),
      perSecond: Math.round(total / (ms / 1000)),
      p50Ms: quantile(latencies, 0.5),
      p99Ms: quantile(latencies, 0.99),
      cpuMsPerReceipt: receiptsCpu.dlr,
      redisCpuMsPerReceipt: receiptsCpu.redis,
    });
    const rows = await waitFor(
      'every attempt row',
      async () => {
        const [row] = await clickhouse.rows<{ n: string }>(
          sql`SELECT count() AS n FROM ${identifier(database)}.attempts`,
        );
        return Number(row?.n) >= total && Number(row?.n);
      },
      600_000,
      200,
    );
    print({ phase: 'attempt rows', rows, secondsAfterReceipts: +((Date.now() - started) / 1000).toFixed(2) });
  } finally {
    await service.stop();
    await redis.clear();
    await stop();
    await closeTestProducer();
    await deleteNamespaceTopics(run);
    await clickhouse.command(sql`DROP DATABASE IF EXISTS ${identifier(database)}`);
    await clickhouse.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
