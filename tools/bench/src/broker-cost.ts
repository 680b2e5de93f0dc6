/**
 * What the local Kafka broker's CPU costs a produce request and a record, on this machine: the figures that
 * say whether fewer requests (batching, lingering, fewer commits) or fewer records (fewer hops) would pay.
 * Writes 400-byte records to a topic of its own through the platform's producer (idempotent, acks=-1, as
 * every service writes), at a few rates and request sizes, and reads the broker's CPU from /proc. Run it with
 * the local infrastructure up and nothing else running (`deploy/local/infra.sh up`, then
 * `pnpm --filter @tern/bench broker-cost`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_PARTITIONS, ensureTopics } from '@tern/kafka';
import { createLogger } from '@tern/telemetry';
import { brokerCostFit, cpuTicksOfStat } from './figures';
import { kafkaClientFromSettings } from './kafka-client';

const ROOT = join(__dirname, '..', '..', '..');
const MEASURED_SECONDS = 15;
const WARMUP_SECONDS = 5;
/** Requests a second and records a request: many small requests, the same records in fewer, and larger. */
const PHASES = [
  { requestsPerSecond: 400, records: 1 },
  { requestsPerSecond: 400, records: 10 },
  { requestsPerSecond: 40, records: 100 },
] as const;

const brokerPid = Number(readFileSync(join(ROOT, '.local', 'kafka', 'kafka.pid'), 'utf8').trim());
/** The broker's CPU so far, in ms (100 ticks a second). */
const brokerCpuMs = () => cpuTicksOfStat(readFileSync(`/proc/${brokerPid}/stat`, 'utf8')) * 10;

const logger = createLogger({ service: 'bench', level: 'warn' });
const client = kafkaClientFromSettings('tern-broker-cost');
async function main(): Promise<void> {
  const name = 'bench.broker-cost';
  const topic = client.topic({ name, partitions: DEFAULT_PARTITIONS, compacted: false, dlq: `${name}.dlq` });
  await ensureTopics(client.kafka, [topic], logger, { dlqRetentionMs: 60_000 });
  const producer = client.producer();
  await producer.connect();
  const value = Buffer.alloc(400, 7);

  /** Writes at the phase's pace for `seconds`; the requests sent. */
  async function write(phase: (typeof PHASES)[number], seconds: number): Promise<number> {
    const end = Date.now() + seconds * 1000;
    let sent = 0;
    while (Date.now() < end) {
      const started = Date.now();
      const records = Array.from({ length: phase.records }, (_, i) => ({ key: String(i), value }));
      await producer.sendRaw(topic.name, records);
      sent++;
      await sleep(Math.max(0, 1000 / phase.requestsPerSecond - (Date.now() - started)));
    }
    return sent;
  }

  // A first pass warms the broker's JIT (the first phase of a cold broker cost it twice as much).
  for (const phase of PHASES) await write(phase, WARMUP_SECONDS);
  let before = brokerCpuMs();
  await sleep(MEASURED_SECONDS * 1000);
  const idleCpuMs = brokerCpuMs() - before;
  const measured = [];
  for (const phase of PHASES) {
    await write(phase, WARMUP_SECONDS);
    before = brokerCpuMs();
    const requests = await write(phase, MEASURED_SECONDS);
    measured.push({ requests, records: requests * phase.records, cpuMs: brokerCpuMs() - before });
  }
  await client.disconnect();

  const share = (cpuMs: number) => `${((cpuMs / (MEASURED_SECONDS * 1000)) * 100).toFixed(1)}% of a core`;
  process.stdout.write(`broker idle: ${share(idleCpuMs)}\n`);
  for (const [i, m] of measured.entries())
    process.stdout.write(
      `${PHASES[i]!.requestsPerSecond} requests/s of ${PHASES[i]!.records} records: ${m.requests} requests, ` +
        `${share(m.cpuMs)}\n`,
    );
  const fit = brokerCostFit(idleCpuMs, measured);
  process.stdout.write(
    `over idle: ${fit.perRequestUs.toFixed(0)} µs a produce request and ${fit.perRecordUs.toFixed(1)} µs a ` +
      'record (least squares over the phases)\n',
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${String(error)}\n`);
  process.exitCode = 1;
});
