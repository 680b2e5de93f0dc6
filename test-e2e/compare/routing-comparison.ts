// Smart routing against the baseline on one simulated world, counted from the simulator's ground truth:
// the whole platform (six built services) runs twice on the same scenario and the same OTP traffic, once
// with TERN_ROUTER_STRATEGY=cheapest and once with smart routing, and prints one table.
//   pnpm build && eval "$(deploy/local/infra.sh env)"
//   pnpm --filter @tern/test-e2e compare --scenario sea-ecommerce --messages 400
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { CarrierSimulator, loadScenario, writePlatformConfig, type ArrivedMessage } from '@tern/carrier-sim';
import { grpcMethod, sms } from '@tern/contracts';
import { parseRecipient } from '@tern/sms-domain';
import { infraFromEnv, startServiceProcess, uniqueName, waitFor, type ServiceProcess } from '@tern/testing';

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', default: 'sea-ecommerce' },
    messages: { type: 'string', default: '400' },
    countries: { type: 'string', default: 'ID,PH' },
    'wait-seconds': { type: 'string', default: '90' },
  },
});
const root = join(__dirname, '..', '..');
const infra = infraFromEnv();
const SERVICES = ['ingest', 'risk', 'router', 'smpp-connector', 'dlr', 'analytics'] as const;
const sendBatch = grpcMethod(
  'tern.sms.v1.SmsService',
  'SendBatch',
  sms.SendBatchRequest,
  sms.SendBatchResponse,
);

/**
 * A mobile number in a carrier's prefix that the country's numbering plan accepts (ingest refuses the
 * rest): subscriber digits from the message's index, as many as the plan wants.
 */
function numberIn(prefix: string, i: number): string | undefined {
  // Subscriber numbers rarely start with 0 or 1; the rest varies with the index.
  const digits = String(i * 7919).padStart(11, '0');
  for (let length = 4; length <= 12; length++) {
    const candidate = `${prefix}2${digits.slice(-(length - 1))}`;
    const parsed = parseRecipient(candidate);
    if (parsed.ok && ['mobile', 'fixed-or-mobile'].includes(parsed.recipient.numberType)) return candidate;
  }
  return undefined;
}

type Unary = (r: unknown, m: grpc.Metadata, done: (e: Error | null, response: unknown) => void) => void;

interface Outcome {
  sentAt: number;
  submissions: { channel: string; at: number; stat: string; latencyMs: number }[];
}

async function runStrategy(strategy: 'cheapest' | 'smart') {
  const scenario = loadScenario(values.scenario);
  const outcomes = new Map<string, Outcome>();
  const simulator = new CarrierSimulator({
    scenario: { ...scenario, channels: scenario.channels.map((c) => ({ ...c, port: 0 })) },
    onMessage: (m: ArrivedMessage) => {
      const ref = /ref (\S+)/.exec(m.text)?.[1];
      const outcome = ref ? outcomes.get(ref) : undefined;
      outcome?.submissions.push({ channel: m.channel, at: Date.now(), stat: m.stat, latencyMs: m.latencyMs });
    },
  });
  await simulator.start();
  const world = writePlatformConfig(
    scenario,
    mkdtempSync(join(tmpdir(), 'tern-compare-')),
    simulator.ports(),
  );
  const run = uniqueName(`cmp-${strategy}`);
  const env = {
    TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
    TERN_REDIS_URL: infra.redisUrl,
    TERN_CLICKHOUSE_URL: infra.clickhouseUrl,
    TERN_CLICKHOUSE_DATABASE: run.replace(/-/g, '_'),
    TERN_ANALYTICS_HASH_KEY: 'compare-analytics-hash-key',
    TERN_SMPP_CHANNELS_FILE: world.channelsFile,
    TERN_NUMBER_RANGES_FILE: world.numberRangesFile,
    TERN_ROUTING_TABLE_FILE: world.routingTableFile,
    TERN_RISK_POLICY_FILE: join(root, 'deploy/local/risk-policy.yaml'),
    TERN_TENANTS_FILE: join(root, 'deploy/local/tenants.yaml'),
    TERN_KAFKA_NEW_GROUP_STARTS_AT: 'latest',
    TERN_GRPC_PORT: '0',
    TERN_ANALYTICS_GRPC_PORT: '0',
    TERN_CALLBACK_ALLOW_PRIVATE: 'true',
    TERN_ROUTER_STRATEGY: strategy,
    TERN_INGEST_DEPLOYMENT: run,
    TERN_RISK_DEPLOYMENT: run,
    TERN_ROUTER_DEPLOYMENT: run,
    TERN_DLR_DEPLOYMENT: run,
  };
  const services: ServiceProcess[] = [];
  try {
    for (const name of SERVICES) {
      const service = await startServiceProcess(join(root, 'services', name, 'dist', 'main.js'), env, root);
      services.push(service);
      await waitFor(`${name} ready`, async () => (await service.ready()).status === 200, 60_000);
    }
    const grpcPort = services[0]!.logs.find((l) => l['msg'] === 'gRPC API listening')?.['grpcPort'] as number;
    const Client = grpc.makeGenericClientConstructor({ sendBatch }, 'SmsService');
    const client = new Client(`127.0.0.1:${grpcPort}`, grpc.credentials.createInsecure());
    const countries = values.countries.split(',');
    // Prefixes where the numbering plan has mobile numbers (a scenario may list ranges it no longer has).
    const numbers = countries.map((code) => {
      const country = scenario.countries.find((c) => c.code === code);
      if (!country) throw new Error(`${values.scenario} has no country ${code}`);
      const usable = country.carriers
        .flatMap((carrier) => carrier.prefixes.map((p) => `+${p}`))
        .filter((prefix) => numberIn(prefix, 0) !== undefined);
      if (usable.length === 0)
        throw new Error(`no prefix of ${code} in ${values.scenario} has valid mobile numbers`);
      return usable;
    });
    const total = Number(values.messages);
    const metadata = new grpc.Metadata();
    metadata.set('x-api-key', 'tern-local-demo-key');
    const refs: string[] = [];
    let refused = 0;
    for (let start = 0; start < total; start += 50) {
      const messages = Array.from({ length: Math.min(50, total - start) }, (_, k) => {
        const i = start + k;
        const prefixes = numbers[i % numbers.length]!;
        const prefix = prefixes[i % prefixes.length]!;
        const to = numberIn(prefix, i) ?? numberIn(prefix, 0)!;
        const ref = `${run}-${i}`;
        refs.push(ref);
        return sms.SendMessageRequest.fromPartial({
          to,
          from: 'Tern',
          body: `Your Tern code is ${String(100000 + i).slice(-6)} ref ${ref}`,
          type: sms.MessageType.MESSAGE_TYPE_OTP,
        });
      });
      const sentAt = Date.now();
      const response = await new Promise<sms.SendBatchResponse>((resolve, reject) =>
        (client as unknown as Record<string, Unary>)['sendBatch']!({ messages }, metadata, (e, r) =>
          e ? reject(e) : resolve(r as sms.SendBatchResponse),
        ),
      );
      // Only accepted messages count; a refused one (an invalid number) is the traffic's fault, not routing's.
      for (const result of response.results) {
        const ref = refs[start + result.index];
        if (result.accepted && ref) outcomes.set(ref, { sentAt, submissions: [] });
        else refused++;
      }
      await new Promise((r) => setTimeout(r, 200)); // a steady flow, as a login page makes
    }
    client.close();
    // Until every message was delivered or the wait is over (the simulator's clock: time scale 1).
    const deadline = Date.now() + Number(values['wait-seconds']) * 1000;
    await waitFor(
      'the traffic to settle',
      () =>
        Date.now() > deadline ||
        [...outcomes.values()].every((o) => o.submissions.some((s) => s.stat === 'DELIVRD')),
      Number(values['wait-seconds']) * 1000 + 10_000,
      500,
    );
    return { ...summarize(strategy, [...outcomes.values()], scenario), refused };
  } finally {
    for (const service of services.reverse()) await service.stop();
    await simulator.stop();
  }
}

function summarize(strategy: string, outcomes: Outcome[], scenario: ReturnType<typeof loadScenario>) {
  const price = new Map(scenario.channels.map((c) => [c.id, c.pricePerSegment]));
  const latencies: number[] = [];
  let delivered = 0;
  let cost = 0;
  let submissions = 0;
  for (const o of outcomes) {
    submissions += o.submissions.length;
    for (const s of o.submissions) cost += price.get(s.channel) ?? 0;
    const first = o.submissions.find((s) => s.stat === 'DELIVRD');
    if (!first) continue;
    delivered++;
    latencies.push(first.at - o.sentAt + first.latencyMs);
  }
  latencies.sort((a, b) => a - b);
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0;
  return {
    strategy,
    messages: outcomes.length,
    delivered: `${((100 * delivered) / outcomes.length).toFixed(1)}%`,
    p50: `${(q(0.5) / 1000).toFixed(1)} s`,
    p95: `${(q(0.95) / 1000).toFixed(1)} s`,
    mean: `${(latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length) / 1000).toFixed(1)} s`,
    costPerDelivered: (cost / Math.max(1, delivered)).toFixed(4),
    retries: submissions - outcomes.filter((o) => o.submissions.length > 0).length,
  };
}

async function main(): Promise<void> {
  const rows = [await runStrategy('cheapest'), await runStrategy('smart')];
  process.stdout.write(`scenario ${values.scenario}, ${values.messages} OTPs to ${values.countries}\n`);
  console.table(rows); // eslint-disable-line no-console
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
