// Routing decisions per second and dispatch latency through the router, on the local Kafka and Redis:
//   select selectChannel alone (the pure domain code, no I/O), `--decisions` times over the table below
//   burst  `--messages` approved messages published at once; rate = messages / (last dispatch - first publish)
//   paced  `--rate` messages per second for `--seconds`; latency = routedAt - publish time, per message
// Four channels towards one country, Thompson sampling over live priors, no rate limit in the way, and
// `--elsewhere` channels that reach other countries only, as in a global table. It starts the built router
// (pnpm build) and prints one JSON line per mode; burst's with the router's CPU and the Redis server's (its
// threads', INFO cpu) per message, and the size of a dispatch's routing decision, which travels with the
// message to dlr's ledger and its trace: nothing else may use that Redis meanwhile (./tern down first).
//   pnpm --filter @tern/router bench --messages 20000 --rate 1000 --seconds 20 [--elsewhere 200]
import { parseArgs } from 'node:util';
import { events, sms } from '@tern/contracts';
import { topics } from '@tern/kafka';
import {
  benchRedis,
  cpuMeter,
  deleteNamespaceTopics,
  infraFromEnv,
  TOPIC_NAMESPACE_ENV,
  uniqueName,
  waitFor,
} from '@tern/testing';
import {
  approved,
  closeHarness,
  ensureLaneTopics,
  messageFactory,
  publish,
  startRouter,
  tableFile,
  watch,
} from '../test/harness';
import { routingTableSchema } from '../src/domain/routing-table';
import { selectChannel } from '../src/domain/select';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '20' },
    decisions: { type: 'string', default: '200000' },
    elsewhere: { type: 'string', default: '0' },
  },
});

/** Channels of a global table that reach other countries than the messages' (SG), five each. */
const ELSEWHERE = ['BR', 'MX', 'DE', 'FR', 'IN', 'NG', 'US', 'GB', 'AE', 'ID', 'PH', 'VN'];
const elsewhere = Array.from({ length: Number(values.elsewhere) }, (_, i) => ({
  id: `elsewhere-${i}`,
  tier: 'aggregator',
  countries: Object.fromEntries(
    Array.from({ length: 5 }, (_, k) => [ELSEWHERE[(i + k) % ELSEWHERE.length]!, { price: 0.02 }]),
  ),
}));

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

function benchSelect(): void {
  const table = routingTableSchema.parse({
    channels: [
      ...['direct', 'tier1', 'aggregator', 'indirect'].map((tier, i) => ({
        id: tier,
        tier,
        tps: 1000,
        senderTypes: ['alphanumeric'],
        countries: { SG: { price: 0.01 * (4 - i) } },
      })),
      ...elsewhere.map((c) => ({ ...c, tps: 1000, senderTypes: ['alphanumeric'] })),
    ],
  });
  const n = Number(values.decisions);
  const message = events.SmsMessage.fromPartial({
    country: 'SG',
    mccMnc: '52501',
    senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
    type: sms.MessageType.MESSAGE_TYPE_OTP,
    segments: 1,
  });
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    message.messageId = `m-${i}`;
    selectChannel({
      message,
      attempt: 1,
      table,
      stats: () => undefined,
      blocked: () => undefined,
      tried: new Set(),
    });
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stdout.write(
    `${JSON.stringify({ mode: 'select', channels: table.channels.length, decisions: n, perSecond: Math.round(n / seconds) })}\n`,
  );
}

async function main(): Promise<void> {
  benchSelect();
  const run = uniqueName('rtbench');
  const channels = ['direct', 'tier1', 'aggregator', 'indirect'].map(
    (tier, i) =>
      `  - { id: ${tier}-${run}, tier: ${tier}, tps: 100000, senderTypes: [alphanumeric], countries: { SG: { price: ${0.01 * (4 - i)} } } }`,
  );
  const others = elsewhere.map(
    (c) =>
      `  - { id: ${c.id}-${run}, tier: ${c.tier}, tps: 100000, senderTypes: [alphanumeric], countries: ${JSON.stringify(c.countries)} }`,
  );
  const table = tableFile(['channels:', ...channels, ...others, `defaultLane: ${run}`].join('\n'));
  // Topics of its own (deleted at the end), so its reader starts at a topic's beginning without reading
  // through what a local platform wrote to sms.status.
  process.env[TOPIC_NAMESPACE_ENV] = run;
  await ensureLaneTopics(run);
  const { seen, stop } = await watch(run, run);
  const redis = await benchRedis(infraFromEnv().redisUrl);
  const router = await startRouter(table.path, run, {
    TERN_REDIS_URL: redis.url,
    ...(process.env.ROUTER_NODE_OPTIONS ? { NODE_OPTIONS: process.env.ROUTER_NODE_OPTIONS } : {}),
  });
  const message = messageFactory(run);
  try {
    const total = Number(values.messages);
    const burst = Array.from({ length: total }, () => approved(message({ acceptedAt: new Date() })));
    // The router's CPU and the Redis server's (the benchmarks' database), per message of the burst.
    const cpu = await cpuMeter({ router, redis });
    const started = Date.now();
    await publish(topics.approved, burst);
    await waitFor('the burst dispatched', () => seen.dispatches.length >= total, 600_000, 50);
    const ms = Math.max(...seen.dispatches.map((d) => d.routedAt!.getTime())) - started;
    const used = await cpu(total);
    process.stdout.write(
      `${JSON.stringify({
        mode: 'burst',
        messages: total,
        seconds: +(ms / 1000).toFixed(2),
        perSecond: Math.round(total / (ms / 1000)),
        cpuMsPerMessage: used.router,
        redisCpuMsPerMessage: used.redis,
        decisionBytes: events.RoutingDecision.encode(seen.dispatches[0]!.decision!).finish().length,
      })}\n`,
    );

    const rate = Number(values.rate);
    const seconds = Number(values.seconds);
    const tickMs = 50;
    const perTick = Math.max(1, Math.round((rate * tickMs) / 1000));
    const before = seen.dispatches.length;
    const pacedStart = Date.now();
    let sent = 0;
    while (Date.now() - pacedStart < seconds * 1000) {
      const due = Math.floor(((Date.now() - pacedStart) / tickMs + 1) * perTick) - sent;
      if (due > 0) {
        await publish(
          topics.approved,
          Array.from({ length: due }, () => approved(message({ acceptedAt: new Date() }))),
        );
        sent += due;
      }
      await new Promise((r) => setTimeout(r, tickMs));
    }
    await waitFor('the paced run dispatched', () => seen.dispatches.length >= before + sent, 120_000, 50);
    const latencies = seen.dispatches
      .slice(before)
      .map((d) => d.routedAt!.getTime() - d.message!.acceptedAt!.getTime())
      .sort((a, b) => a - b);
    process.stdout.write(
      `${JSON.stringify({
        mode: 'paced',
        perSecond: Math.round(sent / seconds),
        messages: sent,
        p50Ms: quantile(latencies, 0.5),
        p95Ms: quantile(latencies, 0.95),
        p99Ms: quantile(latencies, 0.99),
      })}\n`,
    );
  } finally {
    await router.stop();
    await redis.clear();
    await stop();
    await closeHarness();
    await deleteNamespaceTopics(run);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
