// One run of the whole platform on a simulated carrier world, for the routing suites and the comparison
// tool: the six built services, started as an operator starts them, against an in-process carrier simulator,
// with OTPs sent through the public gRPC API and every outcome counted from the simulator's ground truth.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { CarrierSimulator, writePlatformConfig, type ArrivedMessage, type Scenario } from '@tern/carrier-sim';
import { ClickHouse, sql } from '@tern/clickhouse';
import { FINAL_STATUSES, grpcMethod, sms } from '@tern/contracts';
import { sharedRedis } from '@tern/redis';
import { LATENCY_REFERENCE_MS, parseRecipient } from '@tern/sms-domain';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import {
  deleteNamespaceTopics,
  ensurePlatformTopics,
  freePort,
  infraFromEnv,
  runSeed,
  startServiceProcess,
  uniqueName,
  waitFor,
  workerRedisUrl,
  type ServiceProcess,
} from '@tern/testing';

export const SERVICES = ['ingest', 'risk', 'router', 'smpp-connector', 'dlr', 'analytics'] as const;
export type ServiceName = (typeof SERVICES)[number];
/** Real time for a receipt the simulator sent to be recorded by the platform (dlr batches for 1 s). */
const RECEIPT_FLOW_MS = 3000;
/** How often a run checks that its process is not standing still (longestPause). */
const PAUSE_TICK_MS = 250;
/** GetMessage calls `messages()` keeps in flight. */
const VIEW_READS_IN_FLIGHT = 16;
/** How long a send the API could not take (down, or the same reference still in progress) is retried. */
const SEND_RETRY_MS = 90_000;
/** A call's deadline: a client does not wait for ever on an API that cannot answer. */
const CALL_DEADLINE_MS = 10_000;
/** The local tenants' API keys (deploy/local/tenants.yaml); a run's traffic is the demo tenant's by default. */
const API_KEYS = { demo: 'tern-local-demo-key', shop: 'tern-local-shop-key' };
export type Tenant = keyof typeof API_KEYS;
/** The largest SendBatch drive() makes. */
const DRIVE_BATCH = 500;
/** Item errors a client retries with the same reference: the platform's state, not the request's fault. */
const RETRYABLE_ITEM_CODES = new Set(['RATE_LIMITED', 'REQUEST_IN_PROGRESS', 'UNAVAILABLE']);
export type Strategy = 'cheapest' | 'smart';

const root = join(__dirname, '..', '..');
const sendBatch = grpcMethod(
  'tern.sms.v1.SmsService',
  'SendBatch',
  sms.SendBatchRequest,
  sms.SendBatchResponse,
);
const getMessage = grpcMethod('tern.sms.v1.SmsService', 'GetMessage', sms.GetMessageRequest, sms.Message);
type Unary = (r: unknown, m: grpc.Metadata, done: (e: Error | null, response: unknown) => void) => void;
type UnaryWithDeadline = (
  r: unknown,
  m: grpc.Metadata,
  o: grpc.CallOptions,
  done: (e: Error | null, response: unknown) => void,
) => void;

export interface PlatformRunOptions {
  scenario: Scenario;
  strategy: Strategy;
  /** Simulated ms per real ms; every duration of the platform that the scenario's clock drives is scaled. */
  timeScale?: number;
  /** The sender ID on every OTP (registered where the scenario's countries ask for one). */
  sender?: string;
  /** The risk policy (default: the local platform's, deploy/local/risk-policy.yaml). */
  riskPolicyFile?: string;
  /** The simulator's seed (default: TERN_E2E_SEED, or a new one per run; printed so a run can be replayed). */
  seed?: number;
  /** A Redis server of the run's own instead of the shared one (a drill that restarts it). */
  redisUrl?: string;
  /**
   * Which of the jest worker's Redis databases the run empties and uses (default 0): two runs of one
   * worker at once (a baseline while the smart run settles) take one each.
   */
  redisSlot?: number;
  /** Settings of one service only (a Redis reached through a proxy a drill can cut). */
  serviceEnv?: Partial<Record<ServiceName, Record<string, string>>>;
  /** Instances of each service (of each lane's connector), in one consumer group (default 1). */
  instances?: number;
  /**
   * Lanes, as an operator deploys them: lane -> countries in the routing table, a dispatch topic and
   * connectors of its own per lane (default: every country in the default lane).
   */
  lanes?: Record<string, string[]>;
  /**
   * The tenants whose backends report the conversions of their OTPs (ReportConversion over the HTTP API),
   * as the simulator's users, following the scenario's `conversion` model, use their codes (default none).
   */
  reportConversions?: readonly Tenant[];
}

/** One SMS the simulator accepted for an OTP: the channel, its fate, and when (scenario ms) it arrived. */
export interface Submission {
  channel: string;
  stat: string;
  arrivedAt: number;
  /** Simulated ms from acceptance to the handset (or to the failure). */
  latencyMs: number;
}

/** An attempt as dlr recorded it in ClickHouse (times in seconds, as ClickHouse prints them). */
export interface AttemptRow {
  message_id: string;
  attempt: number;
  channel_id: string;
  status: string;
  reason_code: string;
  error_code: string;
  submitted_at: string;
  done_at: string;
}

export interface SentOtp {
  ref: string;
  /** Who sent it. */
  tenant: Tenant;
  /** Tern's id for it, from the API's answer. */
  messageId?: string;
  country: string;
  /** The carrier (scenario id) that owns the number. */
  carrier: string;
  /** Scenario ms. */
  sentAt: number;
  submissions: Submission[];
}

/**
 * Settings of the platform that follow the scenario's clock: at time scale 10 a breaker's 30 s window is 3 s
 * of real time, analytics' 3-minute half-life 18 s. Receipt windows come with the routing table.
 */
export function scaledSettings(timeScale: number): Record<string, string> {
  const scaled = (ms: number, min: number) => String(Math.max(min, Math.round(ms / timeScale)));
  return {
    TERN_ROUTER_BREAKER_WINDOW_MS: scaled(30_000, 100),
    TERN_ROUTER_BREAKER_OPEN_MS: scaled(15_000, 100),
    TERN_ROUTER_NO_CHANNEL_WAIT_MS: scaled(60_000, 0),
    // Analytics refreshes every weight each cycle; anything older is another run's, left on the topic.
    TERN_ROUTER_WEIGHTS_MAX_AGE_MS: scaled(20_000, 1000),
    // Latencies are measured in real time: at time scale 6 a 3 s route shows 0.5 s, and speed must weigh
    // in the score as it does at scale 1. Analytics states the tier priors' latencies on the same clock.
    TERN_ROUTER_LATENCY_REFERENCE_MS: scaled(LATENCY_REFERENCE_MS, 1),
    TERN_SMPP_MAX_WAIT_FOR_BIND_MS: scaled(120_000, 100),
    TERN_SMPP_DOWN_FAILOVER_MS: scaled(5_000, 0),
    TERN_DLR_RECEIPT_WINDOW_MS: scaled(600_000, 1000),
    TERN_DLR_OTP_RECEIPT_WINDOW_MS: scaled(120_000, 1000),
    // A failed receipt's retry waits for dlr's gather too: scaled, it costs the scenario what it would at scale 1.
    TERN_DLR_FETCH_GATHER_MS: scaled(50, 0),
    TERN_ANALYTICS_INTERVAL_MS: scaled(2_000, 500),
    TERN_ANALYTICS_HALF_LIFE_MS: scaled(180_000, 1000),
    TERN_ANALYTICS_WINDOW_MS: scaled(3_600_000, 60_000),
    TERN_ANALYTICS_LATENCY_WINDOW_MS: scaled(900_000, 60_000),
    TERN_ANALYTICS_LATENCY_REFERENCE_MS: scaled(LATENCY_REFERENCE_MS, 1),
    TERN_ANALYTICS_CONVERSION_WINDOW_MS: scaled(120_000, 1000),
    TERN_ANALYTICS_CONVERSION_REFRESH_MS: scaled(30_000, 500),
  };
}

/**
 * A run is a platform of its own: the state the run before left in Redis (receipts its dlr still awaited,
 * the routers' attempt ledgers, risk's windows on the same numbers) would otherwise act in this one, as
 * retries of the other run's messages.
 */
async function freshRunRedis(redisUrl: string, slot: number): Promise<string> {
  const url = runRedisUrl(redisUrl, undefined, slot);
  const redis = sharedRedis({ redisUrl: url });
  try {
    await redis.flushdb();
  } finally {
    await redis.quit();
  }
  return url;
}

/**
 * Deliberately broken builds the routing suites must catch (`./tern mutants`): each is a preload in
 * test-e2e/mutants/ that alters one service's code in memory, named by TERN_E2E_MUTANT.
 */
export const MUTANTS: Readonly<Record<string, ServiceName>> = {
  'weights-sign-flip': 'router',
  'delivery-weight-flip': 'router',
};

function mutantEnv(name: ServiceName): Record<string, string> {
  const mutant = process.env['TERN_E2E_MUTANT'];
  if (!mutant) return {};
  if (!(mutant in MUTANTS))
    throw new Error(`TERN_E2E_MUTANT=${mutant}: no such mutant (${Object.keys(MUTANTS).join(', ')})`);
  if (MUTANTS[mutant] !== name) return {};
  return { NODE_OPTIONS: `--require ${join(root, 'test-e2e', 'mutants', `${mutant}.cjs`)}` };
}

/**
 * The Redis URL a run's services use, at another host and port (a proxy) if given: one of the jest worker's
 * databases, emptied before each run, so suites running side by side never touch each other's state.
 */
export function runRedisUrl(redisUrl: string, via?: { host: string; port: number }, slot = 0): string {
  const url = new URL(workerRedisUrl(redisUrl, 'e2e', undefined, slot));
  if (via) {
    url.hostname = via.host;
    url.port = String(via.port);
  }
  return url.toString();
}

/**
 * A mobile number in a carrier's prefix that the country's numbering plan accepts (ingest refuses the
 * rest): subscriber digits from `i`, as many as the plan wants.
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

/** A running service process, and the settings of its own (a connector's lane). */
interface Instance {
  name: ServiceName;
  process: ServiceProcess;
  env: Record<string, string>;
}

export class PlatformRun {
  readonly otps = new Map<string, SentOtp>();
  readonly timeScale: number;
  /** The run's ClickHouse database, for the report. */
  readonly database: string;
  /** Where the run's services keep their state in Redis (set when they start). */
  redisUrl = '';
  /** The run's topic namespace: it shares the broker, never a topic, with other runs. */
  readonly namespace: string;
  /** OTPs ingest refused (numbers the plan does not know): the traffic's fault, not routing's. */
  readonly refused: string[] = [];
  /** Real seconds each phase of the run took (start, drive, settle), summed when a phase repeats: the report's. */
  readonly phases = new Map<string, number>();
  /** OTPs still on their way when `settle` gave up waiting at its deadline (stragglers): the report's. */
  openAtSettleEnd: SentOtp[] = [];
  private readonly runId: string;
  private readonly services: Instance[] = [];
  /** Every instance that ran, stopped or not, for its log. */
  private readonly ran: Instance[] = [];
  private env: Record<string, string> = {};
  /** The platform's view of the world (channels, number ranges, routing table), removed at stop. */
  private configDir: string | undefined;
  private readonly prefixes = new Map<string, string[]>();
  private client: grpc.Client | undefined;
  /** Sends the API did not take at once, retried in the background with the same references. */
  private readonly retrying = new Set<Promise<void>>();
  private sent = 0;
  private storyStart = 0;
  /**
   * The longest the test process stood still during the story (a tick due every PAUSE_TICK_MS came this
   * late), and when: a machine or VM paused, or an event loop blocked. The report names it, since every
   * time-driven figure of the run (OTPs sent, latencies) moves with it.
   */
  longestPause = { ms: 0, at: 0 };
  private pauseWatch: NodeJS.Timeout | undefined;

  private constructor(
    readonly options: PlatformRunOptions,
    readonly simulator: CarrierSimulator,
    runId: string,
  ) {
    this.timeScale = options.timeScale ?? 1;
    this.runId = runId;
    this.database = runId.replace(/-/g, '_');
    this.namespace = runId;
  }

  /** Starts the simulator, writes the platform's view of its world, and starts every service on it. */
  static async start(options: PlatformRunOptions): Promise<PlatformRun> {
    const { scenario } = options;
    let run: PlatformRun | undefined = undefined;
    const runId = uniqueName(`${scenario.name}-${options.strategy}`);
    // The fates the carriers draw come from the seed. (SMSC message ids do too: a replayed seed repeats them,
    // which nothing minds, as every run has its own Redis state.)
    const seed = options.seed ?? runSeed();
    const simulator = new CarrierSimulator({
      seed,
      // A quiet network while the platform starts; the timeline plays from `begin()`.
      scenario: { ...scenario, timeline: [], channels: scenario.channels.map((c) => ({ ...c, port: 0 })) },
      timeScale: options.timeScale ?? 1,
      onMessage: (m) => run?.arrived(m),
    });
    run = new PlatformRun({ ...options, seed }, simulator, runId);
    const startedAt = Date.now();
    await simulator.start();
    try {
      await run.startServices();
      run.timed('start', startedAt);
    } catch (error) {
      await run.stop();
      throw error;
    }
    return run;
  }

  private async startServices(): Promise<void> {
    // As an operator does before the first start (a fresh broker has none of the platform's topics).
    await ensurePlatformTopics(this.lanes(), this.namespace);
    const infra = infraFromEnv();
    this.redisUrl = await freshRunRedis(this.options.redisUrl ?? infra.redisUrl, this.options.redisSlot ?? 0);
    this.configDir = mkdtempSync(join(tmpdir(), 'tern-run-'));
    const world = writePlatformConfig(this.options.scenario, this.configDir, this.simulator.ports(), {
      timeScale: this.timeScale,
    });
    if (this.options.lanes) {
      const table = parseYaml(readFileSync(world.routingTableFile, 'utf8')) as Record<string, unknown>;
      table['lanes'] = Object.fromEntries(
        Object.entries(this.options.lanes).flatMap(([lane, countries]) => countries.map((c) => [c, lane])),
      );
      writeFileSync(world.routingTableFile, stringifyYaml(table));
    }
    this.env = {
      TERN_KAFKA_BROKERS: infra.kafkaBrokers.join(','),
      TERN_REDIS_URL: this.redisUrl,
      TERN_CLICKHOUSE_URL: infra.clickhouseUrl,
      TERN_CLICKHOUSE_DATABASE: this.database,
      TERN_ANALYTICS_HASH_KEY: 'e2e-run-analytics-hash-key',
      TERN_SMPP_CHANNELS_FILE: world.channelsFile,
      TERN_NUMBER_RANGES_FILE: world.numberRangesFile,
      TERN_ROUTING_TABLE_FILE: world.routingTableFile,
      TERN_RISK_POLICY_FILE: this.options.riskPolicyFile ?? join(root, 'deploy/local/risk-policy.yaml'),
      TERN_TENANTS_FILE: join(root, 'deploy/local/tenants.yaml'),
      TERN_OPERATORS_FILE: join(root, 'deploy/local/operators.yaml'),
      // Topics of the run's own: other runs, before or beside it, never reach its services.
      TERN_KAFKA_TOPIC_NAMESPACE: this.namespace,
      TERN_INGEST_DEPLOYMENT: this.runId,
      TERN_RISK_DEPLOYMENT: this.runId,
      TERN_ROUTER_DEPLOYMENT: this.runId,
      TERN_DLR_DEPLOYMENT: this.runId,
      TERN_GRPC_PORT: String(await freePort()),
      TERN_ANALYTICS_GRPC_PORT: '0',
      TERN_CONSOLE_PORT: '0',
      TERN_API_HTTP_PORT: '0',
      TERN_SMPP_PORT: '0',
      TERN_SMPP_TLS_PORT: '0',
      TERN_ROUTER_STRATEGY: this.options.strategy,
      ...scaledSettings(this.timeScale),
      // A replicated cluster's durability (the three-node drill), for the topics the router makes.
      ...Object.fromEntries(
        ['TERN_KAFKA_REPLICATION_FACTOR', 'TERN_KAFKA_MIN_INSYNC_REPLICAS'].flatMap((k) =>
          process.env[k] ? [[k, process.env[k]]] : [],
        ),
      ),
    };
    // Each instance with the settings of its own: a connector per lane.
    const wanted = SERVICES.flatMap((name) =>
      (name === 'smpp-connector' && this.options.lanes
        ? Object.keys(this.options.lanes).map((lane) => ({ name, env: { TERN_LANES: lane } }))
        : [{ name, env: {} }]
      ).flatMap((one) => Array.from({ length: this.options.instances ?? 1 }, () => one)),
    );
    // All at once: the run's topics are its own and its groups start at their beginning, so what a service
    // writes before the one downstream has joined waits for it. (Instances of one group one after the
    // other: a member joining while the group forms makes a second rebalance, no faster.)
    const started = await Promise.allSettled(
      SERVICES.map(async (name) => {
        for (const one of wanted.filter((w) => w.name === name))
          this.track(name, await this.launch(name, one.env), one.env);
      }),
    );
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    const ingest = this.instances('ingest')[0]!;
    const port = ingest.logs.find((l) => l['msg'] === 'gRPC API listening')?.['grpcPort'] as number;
    const Client = grpc.makeGenericClientConstructor({ sendBatch, getMessage }, 'SmsService');
    this.client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    await this.warmUp();
    // From the story's OTPs on: the warm-up's codes are never reported.
    const reporting = new Set(this.options.reportConversions);
    if (reporting.size > 0) {
      const httpPort = ingest.logs.find((l) => l['msg'] === 'HTTP API listening')?.['apiHttpPort'] as number;
      this.simulator.reportConversionsTo({
        apiUrl: `http://127.0.0.1:${httpPort}`,
        apiKeyOf: (ref) => {
          const tenant = this.otps.get(ref)?.tenant;
          return tenant && reporting.has(tenant) ? API_KEYS[tenant] : undefined;
        },
      });
    }
  }

  /**
   * OTPs reach the carriers before the story begins: the whole path works, and the first messages' one-off
   * costs (connections, compilation) stay out of the measured latencies.
   */
  private async warmUp(): Promise<void> {
    const countries = this.options.scenario.countries
      .map((c) => c.code)
      .filter((code) => this.prefixesOf(code, false).length > 0);
    await this.sendOtps(countries);
    await waitFor(
      'a warm-up OTP to reach the carriers',
      () => [...this.otps.values()].some((otp) => otp.submissions.length > 0),
      90_000,
    );
    // The first receipts through dlr, so the story's first ones pay no start-up cost either: until every
    // warm-up OTP has its final status (a fraction of a second in a scaled world), or RECEIPT_FLOW_MS at
    // most, as a receipt the world loses never comes.
    const until = Date.now() + RECEIPT_FLOW_MS;
    const finished = async () => {
      const ids = [...this.otps.values()].map((otp) => otp.messageId);
      if (ids.some((id) => id === undefined)) return false;
      const views = await this.messages(ids as string[]);
      return views.every((view) => view !== undefined && FINAL_STATUSES.has(view.status));
    };
    while (Date.now() < until && !(await finished())) await new Promise((r) => setTimeout(r, 100));
    this.otps.clear();
  }

  /** The scenario's story begins: its timeline plays from now, and scenario time counts from here. */
  begin(): void {
    this.storyStart = this.simulator.clock.now();
    this.simulator.play(this.options.scenario.timeline);
    let last = Date.now();
    this.pauseWatch = setInterval(() => {
      const now = Date.now();
      const late = now - last - PAUSE_TICK_MS;
      if (late > this.longestPause.ms) this.longestPause = { ms: late, at: last };
      last = now;
    }, PAUSE_TICK_MS);
    this.pauseWatch.unref();
  }

  /** The simulator's clock (simulated ms) at `scenarioMs` of the story: where the world's timeline stands. */
  simulatedAt(scenarioMs: number): number {
    return this.storyStart + scenarioMs;
  }

  /** Scenario ms since `begin()`. */
  scenarioNow(): number {
    return this.simulator.clock.now() - this.storyStart;
  }

  /**
   * Sends one OTP to each country listed, in one SendBatch, as `tenant`. Each carries its reference as
   * client_reference; what the API could not take (down, restarting, rate-limited, or the same reference
   * still in progress after a crash) is sent again with the same references in the background, as a client
   * does, for up to SEND_RETRY_MS.
   */
  async sendOtps(countries: readonly string[], tenant: Tenant = 'demo'): Promise<void> {
    const batch = countries.map((country) => {
      const i = this.sent++;
      const prefixes = this.prefixesOf(country);
      const prefix = prefixes[i % prefixes.length]!;
      const ref = `${this.runId}-${i}`;
      const to = numberIn(prefix, i) ?? numberIn(prefix, 0) ?? '';
      const destination = this.simulator.world.resolve(to.replace(/^\+/, ''));
      return {
        ref,
        // A carrier's key stands for its country.
        country: destination?.country.code ?? country,
        carrier: destination?.carrier.id ?? '',
        request: sms.SendMessageRequest.fromPartial({
          to,
          from: this.options.sender ?? 'Tern',
          // The reference lets the simulator's arrivals be matched to what was sent; the code is made up.
          body: `Your code is ${String(100000 + (i % 900000)).slice(-6)} ref ${ref}`,
          type: sms.MessageType.MESSAGE_TYPE_OTP,
          clientReference: ref,
        }),
      };
    });
    // Known before the call: the first SMS can reach the simulator before the API's answer reaches us.
    const sentAt = this.scenarioNow();
    for (const { ref, country, carrier } of batch) {
      this.otps.set(ref, { ref, tenant, country, carrier, sentAt, submissions: [] });
    }
    const retry = await this.trySend(batch, tenant);
    if (retry.length === 0) return;
    const giveUpAt = Date.now() + SEND_RETRY_MS;
    const again = (async () => {
      let pending = retry;
      while (pending.length > 0 && Date.now() < giveUpAt) {
        await new Promise((r) => setTimeout(r, 1000));
        pending = await this.trySend(pending, tenant);
      }
      for (const item of pending) {
        this.otps.delete(item.ref);
        this.refused.push(`${item.country}: not taken within ${SEND_RETRY_MS} ms`);
      }
    })();
    this.retrying.add(again);
    void again.finally(() => this.retrying.delete(again));
  }

  /** One SendBatch call as `tenant`; returns the items to send again. */
  private async trySend<T extends { ref: string; country: string; request: sms.SendMessageRequest }>(
    batch: T[],
    tenant: Tenant,
  ): Promise<T[]> {
    const metadata = new grpc.Metadata();
    metadata.set('x-api-key', API_KEYS[tenant]);
    let response: sms.SendBatchResponse;
    try {
      response = await new Promise<sms.SendBatchResponse>((resolve, reject) =>
        (this.client as unknown as Record<string, UnaryWithDeadline>)['sendBatch']!(
          { messages: batch.map((b) => b.request) },
          metadata,
          { deadline: Date.now() + CALL_DEADLINE_MS },
          (e, r) => (e ? reject(e) : resolve(r as sms.SendBatchResponse)),
        ),
      );
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED) return batch;
      throw error;
    }
    const again: T[] = [];
    for (const result of response.results) {
      const sent = batch[result.index];
      const otp = sent && this.otps.get(sent.ref);
      if (otp && result.accepted) otp.messageId = result.accepted.messageId;
      if (sent && !result.accepted) {
        if (RETRYABLE_ITEM_CODES.has(result.error?.code ?? '')) {
          again.push(sent);
          continue;
        }
        this.otps.delete(sent.ref);
        this.refused.push(`${sent.country}: ${result.error?.code ?? ''} ${result.error?.message ?? ''}`);
      }
    }
    return again;
  }

  /**
   * Sends OTPs for `scenarioMs` of scenario time at `perSecond(scenarioMs)` a real second, spread over
   * `countries` by weight, five batches a second (a steady flow, as login pages make).
   */
  async drive(
    scenarioMs: number,
    perSecond: (scenarioMs: number) => number,
    countries: Record<string, number>,
    tenant: Tenant = 'demo',
  ): Promise<void> {
    const until = this.scenarioNow() + scenarioMs;
    const startedAt = Date.now();
    await this.pace(perSecond, countries, () => (this.scenarioNow() < until ? Infinity : 0), tenant);
    this.timed('drive', startedAt);
  }

  /** Sends exactly `count` OTPs at `perSecond`; after a stall (an API away) the backlog follows at once. */
  async driveCount(count: number, perSecond: number, countries: Record<string, number>): Promise<void> {
    const end = this.sent + count;
    const startedAt = Date.now();
    await this.pace(
      () => perSecond,
      countries,
      () => end - this.sent,
    );
    this.timed('drive', startedAt);
  }

  /** Adds the real time since `startedAt` to a phase of the run. */
  private timed(phase: string, startedAt: number): void {
    this.phases.set(phase, (this.phases.get(phase) ?? 0) + (Date.now() - startedAt) / 1000);
  }

  /** The sending loop: what is owed by the time that passed, while `left()` (how many more may go) allows. */
  private async pace(
    perSecond: (scenarioMs: number) => number,
    countries: Record<string, number>,
    left: () => number,
    tenant: Tenant = 'demo',
  ): Promise<void> {
    const pool = Object.entries(countries);
    const total = pool.reduce((s, [, w]) => s + w, 0);
    const countryOf = (i: number) => {
      // Deterministic, evenly interleaved by weight: the i-th message's place in a cycle of 1,000.
      let x = ((i * 617) % 1000) / 1000;
      for (const [code, w] of pool) if ((x -= w / total) < 0) return code;
      return pool[pool.length - 1]![0];
    };
    const tickMs = 200;
    let owed = 0;
    let next = Date.now();
    let last = Date.now();
    while (left() > 0) {
      // Owed by the time that passed: a call that took long (an API away) is made up for after it.
      const now = Date.now();
      owed += (perSecond(this.scenarioNow()) * (now - last)) / 1000;
      last = now;
      const n = Math.min(Math.floor(owed), left());
      owed -= n;
      // In batches the API takes (a catch-up after a stall can owe thousands).
      for (let rest = n; rest > 0; rest -= DRIVE_BATCH) {
        const size = Math.min(rest, DRIVE_BATCH);
        await this.sendOtps(
          Array.from({ length: size }, (_, k) => countryOf(this.sent + k)),
          tenant,
        );
      }
      next += tickMs;
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
    while (this.retrying.size > 0) await Promise.all([...this.retrying]);
  }

  /**
   * Waits until every OTP was delivered, or failed with no further attempt possible or none within
   * `graceScenarioMs` of its failure, or `maxScenarioMs` of scenario time have passed. Then the carriers send
   * no more receipts, and it waits until the platform has recorded the ones they sent: the run's end, where
   * what Tern reports can be compared with what the carriers told it (a straggler's receipt may not be due).
   */
  async settle(maxScenarioMs: number, graceScenarioMs = 10_000): Promise<void> {
    const startedAt = Date.now();
    const deadline = this.scenarioNow() + maxScenarioMs;
    const { channels } = this.options.scenario;
    const channelsTo = new Map(
      [...new Set(channels.flatMap((c) => c.countries))].map((country) => [
        country,
        channels.filter((c) => c.countries.includes(country)).map((c) => c.id),
      ]),
    );
    const settled = (otp: SentOtp, now: number) => {
      // Delivered once the handset has it, when the simulator sends the receipt the platform records.
      if (otp.submissions.some((s) => s.stat === 'DELIVRD' && now > s.arrivedAt + s.latencyMs)) return true;
      // The baseline makes one attempt: its fate, known on arrival, is the OTP's.
      if (this.options.strategy === 'cheapest' && otp.submissions.length > 0) return true;
      const last = otp.submissions[otp.submissions.length - 1];
      if (last === undefined) return false;
      // Failed on every channel to its country: the router tries none twice (only one whose attempt is in
      // doubt, and the carriers answered every one), so its fate is known on arrival, where waiting for the
      // last receipt could take the settle to its deadline (an EXPIRED one comes four times as late).
      const tried = new Set(otp.submissions.map((s) => s.channel));
      const failed = otp.submissions.every((s) => s.stat !== 'DELIVRD');
      if (failed && channelsTo.get(otp.country)?.every((c) => tried.has(c))) return true;
      return now > last.arrivedAt + last.latencyMs + graceScenarioMs;
    };
    await waitFor(
      'the traffic to settle',
      () => {
        const now = this.scenarioNow();
        return now > deadline || [...this.otps.values()].every((otp) => settled(otp, now));
      },
      maxScenarioMs / this.timeScale + 10_000,
      250,
    );
    const endedAt = this.scenarioNow();
    this.openAtSettleEnd = [...this.otps.values()].filter((otp) => !settled(otp, endedAt));
    await this.simulator.holdReceipts();
    // The last receipts on their way through the connector and dlr to ClickHouse, before the run stops: a few
    // seconds, and on a busy machine (a suite running beside another) until dlr has handled all it was sent.
    await new Promise((r) => setTimeout(r, RECEIPT_FLOW_MS));
    await waitFor(
      'dlr to handle every record written to it',
      async () => (await this.dlrBacklog()) === 0,
      60_000,
      500,
    );
    this.timed('settle', startedAt);
  }

  /**
   * Records dlr's consumer groups have not committed yet (submissions, receipts, attempt records, statuses),
   * as its first instance's metrics tell them: each member reports its groups' whole lag.
   */
  private async dlrBacklog(): Promise<number> {
    const dlr = this.instances('dlr')[0];
    if (!dlr) return 0;
    const metrics = await (await fetch(`http://127.0.0.1:${dlr.httpPort}/metrics`)).text();
    return metrics
      .split('\n')
      .filter((line) => line.startsWith('tern_kafka_consumer_lag{'))
      .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
  }

  /**
   * Starts one more instance of a service (it joins the others' consumer groups), with the settings of its
   * own that a stopped instance had (`stopInstance` returns them), and waits until it is ready.
   */
  async startInstance(name: ServiceName, own: Record<string, string> = {}): Promise<ServiceProcess> {
    return this.track(name, await this.launch(name, own), own);
  }

  /** The dispatch lanes of the run. */
  lanes(): string[] {
    return ['default', ...Object.keys(this.options.lanes ?? {})];
  }

  /** Starts an instance of a service and waits until it is ready; a launch that fails leaves none behind. */
  private async launch(name: ServiceName, own: Record<string, string>): Promise<ServiceProcess> {
    const env = { ...this.env, ...this.options.serviceEnv?.[name], ...own, ...mutantEnv(name) };
    // A second ingest beside the first serves its API on a port of its own.
    if (name === 'ingest' && this.instances('ingest').length > 0) env['TERN_GRPC_PORT'] = '0';
    const service = await startServiceProcess(join(root, 'services', name, 'dist', 'main.js'), env, root);
    try {
      await waitFor(`${name} ready`, async () => (await service.ready()).status === 200, 60_000);
    } catch (error) {
      this.ran.push({ name, process: service, env: own }); // its log tells why
      await service.stop('SIGKILL');
      throw error;
    }
    return service;
  }

  /** A running instance the run stops at its end, and whose log it keeps. */
  private track(name: ServiceName, service: ServiceProcess, own: Record<string, string>): ServiceProcess {
    this.services.push({ name, process: service, env: own });
    this.ran.push({ name, process: service, env: own });
    return service;
  }

  /** The running instances of a service, oldest first. */
  instances(name: ServiceName): ServiceProcess[] {
    return this.services.filter((s) => s.name === name).map((s) => s.process);
  }

  /**
   * Stops a running instance of a service with `signal` (SIGKILL: a crash) and waits for its end; returns
   * the instance's own settings, to start it again as it was.
   */
  async stopInstance(
    name: ServiceName,
    signal: NodeJS.Signals,
    which: 'oldest' | 'newest' = 'oldest',
  ): Promise<Record<string, string>> {
    const at =
      which === 'oldest'
        ? this.services.findIndex((s) => s.name === name)
        : this.services.findLastIndex((s) => s.name === name);
    if (at < 0) throw new Error(`no running instance of ${name}`);
    const [stopped] = this.services.splice(at, 1);
    await stopped!.process.stop(signal);
    return stopped!.env;
  }

  /** Where the operators' console of the run's (first) analytics instance listens. */
  consoleUrl(): string {
    const analytics = this.instances('analytics')[0];
    const port = analytics?.logs.find((l) => l['msg'] === 'analytics publishing weights')?.['consolePort'];
    if (typeof port !== 'number') throw new Error('analytics has not said where its console listens');
    return `http://127.0.0.1:${port}`;
  }

  /** A mobile number of `country` in the scenario's plan, for a message sent outside `sendOtps`. */
  recipientIn(country: string, index: number): string {
    const prefixes = this.prefixesOf(country);
    const prefix = prefixes[index % prefixes.length]!;
    return numberIn(prefix, index) ?? numberIn(prefix, 0)!;
  }

  /** The message as the public API shows it now (GetMessage). */
  async message(messageId: string): Promise<sms.Message> {
    const metadata = new grpc.Metadata();
    metadata.set('x-api-key', API_KEYS.demo);
    return new Promise((resolve, reject) =>
      (this.client as unknown as Record<string, Unary>)['getMessage']!({ messageId }, metadata, (e, r) =>
        e ? reject(e) : resolve(r as sms.Message),
      ),
    );
  }

  /**
   * The messages as the public API shows them now, in the order asked, undefined where a read failed: a few
   * GetMessage calls in flight at a time, as a client checking on thousands would make them (one after the
   * other, 2,000 took 4 s).
   */
  async messages(messageIds: readonly string[]): Promise<(sms.Message | undefined)[]> {
    const views: (sms.Message | undefined)[] = [];
    let next = 0;
    const reader = async () => {
      for (let i = next++; i < messageIds.length; i = next++)
        views[i] = await this.message(messageIds[i]!).catch(() => undefined);
    };
    await Promise.all(Array.from({ length: VIEW_READS_IN_FLIGHT }, reader));
    return views;
  }

  /**
   * What Tern wrote in ClickHouse of these messages' attempts, each attempt's newest row in order (the run's
   * database outlives the run): to set beside what the carriers saw of them.
   */
  async attemptRows(messageIds: readonly string[]): Promise<AttemptRow[]> {
    if (messageIds.length === 0) return [];
    const clickhouse = new ClickHouse({ url: infraFromEnv().clickhouseUrl, database: this.database });
    try {
      return await clickhouse.rows<AttemptRow>(
        sql`SELECT message_id, attempt, channel_id, status, reason_code, error_code, submitted_at, done_at
            FROM attempts FINAL WHERE message_id IN ${messageIds} ORDER BY message_id, attempt`,
      );
    } finally {
      await clickhouse.close();
    }
  }

  /**
   * Stops the services and the simulator, and removes the world's config; each instance's log is kept in
   * `.local/e2e/logs/<run>/`.
   */
  async stop(): Promise<void> {
    clearInterval(this.pauseWatch);
    this.client?.close();
    // All at once, as a deployment's pods are: the traffic has settled, and each drains what it holds.
    await Promise.all(this.services.map(({ process: service }) => service.stop()));
    this.services.length = 0;
    await this.simulator.stop();
    if (this.configDir) rmSync(this.configDir, { recursive: true, force: true });
    // TERN_E2E_KEEP_TOPICS: left for a person to read what a lost message left on them.
    if (!process.env['TERN_E2E_KEEP_TOPICS']) await deleteNamespaceTopics(this.namespace);
    const dir = join(root, '.local', 'e2e', 'logs', this.runId);
    mkdirSync(dir, { recursive: true });
    const seen = new Map<string, number>();
    for (const { name, process: service } of this.ran) {
      const n = (seen.get(name) ?? 0) + 1;
      seen.set(name, n);
      writeFileSync(
        join(dir, `${name}${n > 1 ? `.${n}` : ''}.jsonl`),
        service.logs.map((line) => JSON.stringify(line)).join('\n'),
      );
    }
  }

  private arrived(m: ArrivedMessage): void {
    const ref = /ref (\S+)/.exec(m.text)?.[1];
    const otp = ref ? this.otps.get(ref) : undefined;
    otp?.submissions.push({
      channel: m.channel,
      stat: m.stat,
      arrivedAt: this.scenarioNow(),
      latencyMs: m.latencyMs,
    });
  }

  /** Prefixes of the country where the numbering plan has mobile numbers (a scenario may list others). */
  /**
   * Where OTPs to `key` go: a country code (every carrier of the country), or a carrier id of the scenario
   * (that carrier's numbers only: a number range a test sends a stream of its own to).
   */
  private prefixesOf(key: string, required = true): string[] {
    let usable = this.prefixes.get(key);
    if (!usable) {
      const country = this.options.scenario.countries.find((c) => c.code === key);
      const carriers =
        country?.carriers ??
        this.options.scenario.countries.flatMap((c) => c.carriers).filter((carrier) => carrier.id === key);
      if (carriers.length === 0)
        throw new Error(`${this.options.scenario.name} has no country or carrier ${key}`);
      usable = carriers
        .flatMap((carrier) => carrier.prefixes.map((p) => `+${p}`))
        .filter((prefix) => numberIn(prefix, 0) !== undefined);
      if (usable.length === 0 && required) throw new Error(`no prefix of ${key} has valid mobile numbers`);
      this.prefixes.set(key, usable);
    }
    return usable;
  }
}
