// Fault drills: the whole platform under steady OTP traffic through the public API, one ordinary fault
// injected mid-run (a crash, a rolling restart, a rebalance, Redis, Kafka or ClickHouse away, an SMSC outage,
// a cut link), then every accepted message read back through the API and compared with what the simulated
// carriers saw: lost, delivered twice, shown wrongly, and records in any DLQ.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { loadScenario, type Scenario } from '@tern/carrier-sim';
import { events, FINAL_STATUSES, sms } from '@tern/contracts';
import { DLQ_HEADERS, namespaced, platformTopics } from '@tern/kafka';
import { sharedRedis } from '@tern/redis';
import { freePort, infraFromEnv, startTcpProxy, uniqueName, waitFor, type TcpProxy } from '@tern/testing';
import { Kafka, logLevel } from 'kafkajs';
import { PlatformRun, runRedisUrl, SERVICES, type ServiceName } from './platform-run';

const root = join(__dirname, '..', '..');
const infraScript = join(root, 'deploy', 'local', 'infra.sh');
const clusterScript = join(root, 'deploy', 'local', 'kafka-cluster.sh');
/** The scale-out drill's lanes: the drill world's two countries, a lane each. */
const SCALE_OUT_LANES = { eu: ['DE'], latam: ['BR'] };
const run$ = promisify(execFile);

export type Fault =
  /** kill -9, started again `downMs` later. */
  | { kind: 'kill'; service: ServiceName; downMs?: number }
  /** SIGTERM and started again at once: a rolling restart. */
  | { kind: 'term'; service: ServiceName }
  /** Two instances; the newer one killed -9 and not started again: its partitions move to the other. */
  | { kind: 'rebalance'; service: ServiceName }
  /** Redis stopped (its AOF kept) and started again `downMs` later. */
  | { kind: 'redis-restart'; downMs?: number }
  /** The Kafka broker killed -9 and started again `downMs` later. */
  | { kind: 'kafka-kill'; downMs?: number }
  /** ClickHouse stopped for `downMs`. */
  | { kind: 'clickhouse-down'; downMs?: number }
  /** The direct channel's SMSC refuses binds and drops its connections for `downMs`. */
  | { kind: 'smsc-outage'; downMs?: number }
  /** The link between one service and Redis cut (connections dropped, new ones refused) for `downMs`. */
  | { kind: 'redis-cut'; service: ServiceName; downMs?: number }
  /**
   * The platform scaled out on the three-node Kafka cluster (deploy/local/kafka-cluster.sh: replication 3,
   * min.insync.replicas 2): two lanes, two instances of every service (of each lane's connector). One broker
   * killed -9 and started again `downMs` later, then one instance of each service stopped and started again,
   * one service after the other.
   */
  | { kind: 'scale-out'; downMs?: number };

export function faultName(fault: Fault): string {
  return 'service' in fault ? `${fault.kind}:${fault.service}` : fault.kind;
}

/** `kill:router`, `redis-restart`, `redis-cut:dlr`... as `./tern drill` takes them. */
export function parseFault(text: string): Fault {
  const [kind, service] = text.split(':');
  const named = (s: string | undefined): ServiceName => {
    if (!SERVICES.includes(s as ServiceName))
      throw new Error(`"${text}": name a service (${SERVICES.join(', ')})`);
    return s as ServiceName;
  };
  switch (kind) {
    case 'kill':
    case 'term':
    case 'rebalance':
    case 'redis-cut':
      return { kind, service: named(service) };
    case 'redis-restart':
    case 'kafka-kill':
    case 'clickhouse-down':
    case 'smsc-outage':
    case 'scale-out':
      return { kind };
    default:
      throw new Error(`unknown fault "${text}"`);
  }
}

/** Every fault of the drill catalogue that runs on the single local broker (scale-out needs the cluster). */
export const ALL_FAULTS: readonly Fault[] = [
  ...SERVICES.flatMap((service) => [
    { kind: 'kill', service } as const,
    { kind: 'term', service } as const,
    { kind: 'rebalance', service } as const,
  ]),
  { kind: 'redis-restart' },
  { kind: 'kafka-kill' },
  { kind: 'clickhouse-down' },
  { kind: 'smsc-outage' },
  { kind: 'redis-cut', service: 'router' },
  { kind: 'redis-cut', service: 'dlr' },
];

export interface DrillOptions {
  fault: Fault;
  messages: number;
  perSecond: number;
  /** When the fault starts, after the first message (and once the carriers have half of what was sent). */
  faultAtMs?: number;
}

export interface DrillResult {
  fault: string;
  /** Accepted by the API (a message id came back). */
  messages: number;
  /** Accepted, yet with no final status when the drill ended. */
  lost: number;
  /** Reached a handset more than once (simulator's count). */
  deliveredTwice: number;
  /** Of those, messages with no attempt in doubt: a second SMS no crash explains, a defect. */
  twiceNotInDoubt: number;
  /** Final status contradicts the handset: DELIVERED without a delivery, or a delivery shown otherwise. */
  wrongStatus: number;
  /**
   * Messages with an attempt in doubt (a crash between submit_sm and its answer), as the connector recorded
   * it: duplicates allowed. (GetMessage shows the attempt delivered once its receipt was given to it.)
   */
  inDoubt: number;
  /** Records in any DLQ from this run (none is bad input here: every one is a defect). */
  dlqRecords: number;
  dlqReasons: Record<string, number>;
  delivered: number;
  /** Sent but never accepted by the API, retried with the same reference for 90 s (a client's view). */
  refused: number;
  /** Longest time no SMS reached the carriers while traffic was flowing (the fault's visible cost). */
  longestStallMs: number;
  /** Messages whose status was wrong or missing, for the drill's log. */
  examples: string[];
}

const COUNTRIES = { DE: 60, BR: 40 };
/** How long after the last send every message must show its final status. */
const SETTLE_MS = 150_000;
/** The API's default validity of an OTP (ingest's DEFAULT_VALIDITY_MS): the drills set none. */
const OTP_VALIDITY_MS = 10 * 60_000;
/** How long after its validity a message may take to be marked EXPIRED. */
const EXPIRY_GRACE_MS = 30_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The longest a drill can take: five minutes to start the platform, inject the fault and count, the drive,
 * and settle's longest wait (a message accepted at the drive's end, open until its validity runs out).
 * A test's time limit must be above it: a drill stopped by its limit never stops its platform, so its
 * processes live on and their logs, which would say what stalled, are never written.
 */
export function drillTimeoutMs({
  messages,
  perSecond,
}: Pick<DrillOptions, 'messages' | 'perSecond'>): number {
  return 5 * 60_000 + (messages / perSecond) * 1000 + OTP_VALIDITY_MS + EXPIRY_GRACE_MS;
}

export async function runDrill(options: DrillOptions): Promise<DrillResult> {
  const { fault } = options;
  const faultAtMs = options.faultAtMs ?? 15_000;
  let scenario: Scenario = loadScenario('drills');
  if (fault.kind === 'smsc-outage') {
    const from = faultAtMs;
    scenario = {
      ...scenario,
      timeline: [{ event: 'outage', channel: 'drill-direct', from, until: from + (fault.downMs ?? 30_000) }],
    };
  }
  let proxy: TcpProxy | undefined;
  const serviceEnv: Partial<Record<ServiceName, Record<string, string>>> = {};
  if (fault.kind === 'redis-cut') {
    const redis = new URL(infraFromEnv().redisUrl);
    proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port) });
    // The run's database, through the proxy: only this service's link to Redis is cut.
    serviceEnv[fault.service] = {
      TERN_REDIS_URL: runRedisUrl(redis.toString(), { host: '127.0.0.1', port: proxy.port }),
    };
  }
  // A Redis of the drill's own to restart: the shared one serves every other run and test on the machine.
  const ownRedis = fault.kind === 'redis-restart' ? await startOwnRedis() : undefined;
  if (fault.kind === 'scale-out' && infraFromEnv().kafkaBrokers.length < 3)
    throw new Error('the scale-out drill runs on the three-node cluster: `./tern drill scale-out` starts it');
  const run = await PlatformRun.start({
    scenario,
    strategy: 'smart',
    serviceEnv,
    ...(ownRedis ? { redisUrl: ownRedis.url } : {}),
    riskPolicyFile: join(root, 'test-e2e', 'drills', 'risk-policy.yaml'),
    ...(fault.kind === 'scale-out' ? { instances: 2, lanes: SCALE_OUT_LANES } : {}),
  }).catch(async (error: unknown) => {
    // A platform that did not start (the broker away) must not leave the drill's own Redis server running.
    await proxy?.close();
    await ownRedis?.close();
    throw error;
  });
  const arrivals: Arrival[] = [];
  try {
    if (fault.kind === 'rebalance') await run.startInstance(fault.service);
    run.begin();
    const driving = run.driveCount(options.messages, options.perSecond, COUNTRIES);
    await sleep(faultAtMs);
    // On a machine busy with other suites the platform can take long to carry the traffic: a fault that hits
    // it before then proves nothing. So it waits until the carriers have half of what was sent by now.
    const carried = (faultAtMs / 1000) * options.perSecond * 0.5;
    await waitFor(
      `${carried} messages at the carriers before the fault`,
      () => Object.values(run.simulator.truth.channels).reduce((n, c) => n + c.partsAccepted, 0) >= carried,
      (options.messages / options.perSecond) * 1000 + 60_000,
      100,
    );
    await inject(fault, run, proxy, ownRedis);
    await driving;
    const lastSent = Date.now();
    await settle(run, lastSent + SETTLE_MS);
    for (const otp of run.otps.values())
      otp.submissions.forEach((s, i) => arrivals.push({ at: s.arrivedAt, first: i === 0 }));
    return await count(faultName(fault), run, arrivals);
  } finally {
    await run.stop();
    await proxy?.close();
    await ownRedis?.close();
    // A fault that stopped a piece of the infrastructure must never leave it stopped for later tests.
    await run$(infraScript, ['up']).catch(() => undefined);
    if (fault.kind === 'scale-out') await run$(clusterScript, ['up']).catch(() => undefined);
  }
}

async function inject(
  fault: Fault,
  run: PlatformRun,
  proxy: TcpProxy | undefined,
  redis: OwnRedis | undefined,
): Promise<void> {
  switch (fault.kind) {
    case 'kill':
      await run.stopInstance(fault.service, 'SIGKILL');
      await sleep(fault.downMs ?? 5000);
      await run.startInstance(fault.service);
      return;
    case 'term':
      await run.stopInstance(fault.service, 'SIGTERM');
      await run.startInstance(fault.service);
      return;
    case 'rebalance':
      await run.stopInstance(fault.service, 'SIGKILL', 'newest');
      return;
    case 'redis-restart':
      await redis!.stop();
      await sleep(fault.downMs ?? 7000);
      await redis!.start();
      return;
    case 'kafka-kill':
      await run$(infraScript, ['kill', 'kafka']);
      await sleep(fault.downMs ?? 20_000);
      await run$(infraScript, ['up']);
      return;
    case 'clickhouse-down':
      await run$(infraScript, ['stop', 'clickhouse']);
      await sleep(fault.downMs ?? 60_000);
      await run$(infraScript, ['up']);
      return;
    case 'smsc-outage':
      return; // on the scenario's timeline
    case 'redis-cut':
      await proxy!.cut();
      await sleep(fault.downMs ?? 10_000);
      await proxy!.restore();
      return;
    case 'scale-out':
      await run$(clusterScript, ['kill', '2']);
      await sleep(fault.downMs ?? 20_000);
      await run$(clusterScript, ['up']);
      for (const service of SERVICES) {
        const own = await run.stopInstance(service, 'SIGTERM', 'newest');
        await run.startInstance(service, own);
      }
      return;
  }
}

/**
 * Waits until every accepted message has ended (a final status no retry can follow) in agreement with the
 * handsets, or the deadline; past the deadline, for as long as a message that has not ended is still within
 * its validity (it may be waiting for a channel to come back, as after an SMSC outage). Only messages not
 * settled yet are read again each round.
 */
async function settle(run: PlatformRun, deadline: number): Promise<void> {
  const open = new Set([...run.otps.values()].filter((o) => o.messageId).map((o) => o.ref));
  const validUntil = new Map<string, number>();
  let pastDeadline = false;
  for (;;) {
    const refs = [...open];
    const views = await run.messages(refs.map((ref) => run.otps.get(ref)!.messageId!));
    for (const [i, ref] of refs.entries()) {
      const otp = run.otps.get(ref)!;
      const view = views[i];
      if (view && ended(view) && agrees(view, handsetCount(otp.submissions))) open.delete(ref);
      else if (view?.acceptedAt && !ended(view))
        validUntil.set(ref, view.acceptedAt.getTime() + OTP_VALIDITY_MS + EXPIRY_GRACE_MS);
      else validUntil.delete(ref);
    }
    const now = Date.now();
    const stillValid = [...open].some((ref) => now < (validUntil.get(ref) ?? 0));
    if (open.size === 0 || (now >= deadline && !stillValid)) break;
    if (now >= deadline && !pastDeadline) {
      pastDeadline = true;
      const examples = [...open].slice(0, 5).map((ref) => run.otps.get(ref)!.messageId);
      process.stdout.write(
        `${run.namespace}: ${open.size} messages without a final status past the settle deadline, waited for until their validity ends (${examples.join(', ')})\n`,
      );
    }
    await sleep(2000);
  }
  // Anything still on its way (a late receipt, a retry) has a few more seconds to show itself.
  await sleep(3000);
}

/**
 * Whether a message's story has ended: a final status without a retryable reason. A retryable failure
 * (an attempt in doubt, a carrier's temporary error) is final only until its retry is routed, which an
 * attempt in doubt waits for (dlr's grace) and a busy router may take seconds to show.
 */
const ended = (view: sms.Message) => FINAL_STATUSES.has(view.status) && !view.reason?.retryable;

const handsetCount = (submissions: { stat: string }[]) =>
  submissions.filter((s) => s.stat === 'DELIVRD').length;

function agrees(view: sms.Message, deliveries: number): boolean {
  return (view.status === sms.MessageStatus.MESSAGE_STATUS_DELIVERED) === deliveries > 0;
}

async function count(fault: string, run: PlatformRun, arrivals: Arrival[]): Promise<DrillResult> {
  const result: DrillResult = {
    fault,
    messages: 0,
    lost: 0,
    deliveredTwice: 0,
    twiceNotInDoubt: 0,
    wrongStatus: 0,
    inDoubt: 0,
    dlqRecords: 0,
    dlqReasons: {},
    delivered: 0,
    refused: run.refused.length,
    longestStallMs: longestGap(arrivals, run.timeScale),
    examples: [`carriers' seed ${run.options.seed} (TERN_E2E_SEED replays their draws)`],
  };
  const sent = [...run.otps.values()].filter((otp) => otp.messageId);
  const views = await run.messages(sent.map((otp) => otp.messageId!));
  const inDoubt = await inDoubtMessages(
    run,
    sent.map((otp, i) => ({ messageId: otp.messageId!, attempts: views[i]?.attempts.length ?? 0 })),
  );
  const failureExamples: string[] = [];
  const twiceExamples: string[] = [];
  for (const [i, otp] of sent.entries()) {
    result.messages++;
    const deliveries = handsetCount(otp.submissions);
    if (deliveries > 0) result.delivered++;
    if (deliveries > 1) result.deliveredTwice++;
    const view = views[i];
    const wasInDoubt = inDoubt.has(otp.messageId!);
    if (wasInDoubt) result.inDoubt++;
    const status = view ? sms.MessageStatus[view.status] : 'not found';
    const arrived = otp.submissions.map((s) => `${s.channel}:${s.stat}`).join(',') || 'nothing';
    const doubt = wasInDoubt ? ' (in doubt)' : '';
    const twiceUnexplained = deliveries > 1 && !wasInDoubt;
    if (twiceUnexplained) result.twiceNotInDoubt++;
    let failing = true;
    if (!view || !FINAL_STATUSES.has(view.status)) result.lost++;
    else if (!agrees(view, deliveries)) result.wrongStatus++;
    else if (deliveries < 2) continue;
    else failing = twiceUnexplained;
    // A failure's messages are named first: a crash leaves a dozen delivered twice, allowed, that would
    // otherwise fill the examples before the one lost is reached.
    const shown = failing ? failureExamples : twiceExamples;
    if (shown.length < 10) {
      const attempts = view?.attempts
        .map((a) => `#${a.number} ${a.channelId} ${a.errorCode || sms.ReceiptState[a.receiptState]}`)
        .join(' / ');
      const ledger = await ledgerOf(run, otp.messageId!, view?.attempts.length ?? 0);
      shown.push(
        `${otp.messageId}: API ${status} (${attempts ?? 'no view'}), handset ${arrived}${doubt}; ${ledger}`,
      );
    }
  }
  result.examples.push(
    ...failureExamples,
    ...twiceExamples.slice(0, Math.max(0, 10 - failureExamples.length)),
  );
  for (const refusal of run.refused.slice(0, 3)) result.examples.push(`refused: ${refusal}`);
  // Where receipts stand at the carriers, to tell a receipt never sent from one the platform dropped.
  if (result.lost > 0 || result.wrongStatus > 0)
    for (const [channel, truth] of Object.entries(run.simulator.truth.channels))
      result.examples.push(
        `simulator ${channel}: receipts sent ${truth.receiptsSent}, lost ${truth.receiptsLost}, still queued ${truth.receiptsQueuedNow}`,
      );
  const records = await dlqRecordsOf(run);
  result.dlqRecords = records.length;
  for (const reason of records) result.dlqReasons[reason] = (result.dlqReasons[reason] ?? 0) + 1;
  return result;
}

/** The messages with an attempt the connector recorded in doubt (its outcome in Redis, one pipeline). */
async function inDoubtMessages(
  run: PlatformRun,
  messages: { messageId: string; attempts: number }[],
): Promise<Set<string>> {
  const redis = sharedRedis({ redisUrl: run.redisUrl });
  try {
    const pipeline = redis.pipeline();
    const asked: string[] = [];
    for (const { messageId, attempts } of messages)
      for (let n = 1; n <= attempts; n++) {
        pipeline.getBuffer(`tern:smpp:attempt:${messageId}:${n}`);
        asked.push(messageId);
      }
    const found = new Set<string>();
    for (const [i, [error, value]] of ((await pipeline.exec()) ?? []).entries()) {
      if (error) throw error;
      const outcome = value as Buffer | null;
      if (!outcome || outcome.toString('latin1').startsWith('submitting')) continue;
      if (events.SubmitResult.decode(outcome).errorCode === 'OUTCOME_UNKNOWN') found.add(asked[i]!);
    }
    return found;
  } finally {
    await redis.quit();
  }
}

/** What Redis holds for a message's attempts (dlr's ledger, the connector's claims), to explain a wrong one. */
async function ledgerOf(run: PlatformRun, messageId: string, attempts: number): Promise<string> {
  const redis = sharedRedis({ redisUrl: run.redisUrl });
  try {
    const parts: string[] = [];
    for (let n = 1; n <= attempts; n++) {
      const dlr = await redis.hkeys(`tern:dlr:attempt:${messageId}:${n}`);
      const claim = (await redis.getBuffer(`tern:smpp:attempt:${messageId}:${n}`))?.toString('latin1');
      const connector = claim === undefined ? 'none' : claim.startsWith('submitting') ? 'claimed' : 'done';
      parts.push(`#${n} dlr[${dlr.sort().join(',')}] connector[${connector}]`);
    }
    return parts.join(' ');
  } finally {
    await redis.quit();
  }
}

/** An SMS reaching the carriers (scenario ms): its message's first attempt, or a retry. */
interface Arrival {
  at: number;
  first: boolean;
}

/**
 * The longest gap between SMS reaching the carriers (scenario ms), in real ms, while traffic flowed: up to
 * the last message's first attempt. Retries after it (a failure's receipt comes seconds later, an expiry's
 * minutes) come one by one as their receipts do, and their gaps are no stall.
 */
function longestGap(arrivals: Arrival[], timeScale: number): number {
  const flowEnd = Math.max(...arrivals.filter((a) => a.first).map((a) => a.at));
  const sorted = arrivals
    .filter((a) => a.at <= flowEnd)
    .map((a) => a.at)
    .sort((a, b) => a - b);
  let longest = 0;
  for (let i = 1; i < sorted.length; i++) longest = Math.max(longest, sorted[i]! - sorted[i - 1]!);
  return Math.round(longest / timeScale);
}

/**
 * The reasons of every DLQ record the run wrote. A run has topics of its own (its namespace), so whatever
 * its DLQs hold is its doing.
 */
async function dlqRecordsOf(run: PlatformRun): Promise<string[]> {
  const kafka = new Kafka({
    clientId: 'tern-drill',
    brokers: infraFromEnv().kafkaBrokers,
    logLevel: logLevel.NOTHING,
  });
  const client = kafka.admin();
  await client.connect();
  const wanted: { topic: string; partition: number; to: bigint }[] = [];
  try {
    for (const { dlq } of platformTopics(run.lanes()).map((def) => namespaced(def, run.namespace))) {
      for (const end of await client.fetchTopicOffsets(dlq))
        if (BigInt(end.high) > BigInt(end.low))
          wanted.push({ topic: dlq, partition: end.partition, to: BigInt(end.high) });
    }
  } finally {
    await client.disconnect();
  }
  if (wanted.length === 0) return [];
  const reasons: string[] = [];
  const consumer = kafka.consumer({ groupId: uniqueName('tern-drill-dlq') });
  await consumer.connect();
  await consumer.subscribe({ topics: [...new Set(wanted.map((w) => w.topic))], fromBeginning: true });
  const remaining = new Set(wanted.map((w) => `${w.topic}|${w.partition}`));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('reading the DLQs took over 60 s')), 60_000);
    void consumer.run({
      eachMessage: ({ topic, partition, message }) => {
        reasons.push(message.headers?.[DLQ_HEADERS.reason]?.toString() || 'UNKNOWN');
        const range = wanted.find((w) => w.topic === topic && w.partition === partition);
        if (range && BigInt(message.offset) >= range.to - 1n) remaining.delete(`${topic}|${partition}`);
        if (remaining.size === 0) {
          clearTimeout(timer);
          resolve();
        }
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
  return reasons;
}

/** The drill table (markdown, for notes) into `.local/e2e/drills-<suite>.md` and the console. */
export function reportDrills(suite: string, results: readonly DrillResult[], messagesEach: number): string {
  const lines = [
    `#### ${suite}: ${messagesEach} OTPs per drill`,
    '',
    '| fault | accepted | delivered | lost | delivered twice | wrong status | in doubt | DLQ records | longest stall |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.fault} | ${r.messages}${r.refused ? ` (${r.refused} refused)` : ''} | ${r.delivered} | ${r.lost} | ${r.deliveredTwice} | ${r.wrongStatus} | ${r.inDoubt} | ${r.dlqRecords}${
          r.dlqRecords
            ? ` (${Object.entries(r.dlqReasons)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ')})`
            : ''
        } | ${(r.longestStallMs / 1000).toFixed(1)} s |`,
    ),
    '',
    ...results.flatMap((r) => r.examples.map((e) => `- ${r.fault}: ${e}`)),
  ];
  const text = lines.join('\n');
  const dir = join(root, '.local', 'e2e');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `drills-${suite}.md`), `${text}\n`);
  process.stdout.write(`${text}\n`);
  return text;
}

interface OwnRedis {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A Redis server with the shared one's settings (deploy/local/redis.conf), stopped as an operator stops it
 * (SIGTERM: it writes its file and exits) and started again on the same port and data; `close` also removes
 * the data.
 */
async function startOwnRedis(): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'tern-drill-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  const start = async () => {
    server = spawn(
      'redis-server',
      [join(root, 'deploy', 'local', 'redis.conf'), '--port', String(port), '--dir', dir],
      { stdio: 'ignore' },
    );
    const probe = sharedRedis({ redisUrl: url });
    try {
      await waitFor('the drill’s Redis', async () => (await probe.ping().catch(() => '')) === 'PONG', 20_000);
    } finally {
      probe.disconnect();
    }
  };
  const stop = async () => {
    const running = server;
    server = undefined;
    if (!running || running.exitCode !== null) return;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    running.kill('SIGTERM');
    await exited;
  };
  const close = async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  };
  await start();
  return { url, stop, start, close };
}
