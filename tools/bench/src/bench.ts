// The whole platform measured as a customer uses it (`./tern bench`): messages in through the public gRPC
// API (or as signed send events on the Kafka intake), out over SMPP to the simulated carrier, receipts back,
// final statuses on the status stream and attempt rows in ClickHouse. Every count comes from outside Tern:
// submissions and receipts from the carrier simulator's event stream (GET /events), statuses from the stream
// a customer reads, rows from ClickHouse.
// CPU per process comes from /proc. Prints one table and writes the figures as JSON. Options: USAGE below.
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { FINAL_STATUSES, grpcMethod, signedSendEvent, sms } from '@tern/contracts';
import { topics, type KafkaClient, type TypedProducer } from '@tern/kafka';
import { sharedRedis } from '@tern/redis';
import {
  batchesPerMessage,
  byApi,
  byService,
  comparisonTable,
  countedPerMessage,
  cpuSeconds,
  cpuShares,
  cpuTicksOfStat,
  processCpuTicksOfStat,
  firstIdMintedAt,
  gcMsPerMessage,
  groupHistogram,
  isJitCompilerThread,
  latencyWindows,
  SATURATED_BUSY,
  saturated,
  niceOfStat,
  nicedList,
  oomKillsOf,
  parseBackground,
  parseMix,
  peakResidentMibOfStatus,
  podCgroupDir,
  percentiles,
  redisCommandsPerMessage,
  redisMemoryPerMessage,
  subscriberNumber,
  sustainedRate,
  sustainedRateOfCounts,
  threadTicksBetween,
  type BucketBounds,
  type LatencyWindow,
  type MachineSample,
  type MessageKind,
  type Percentiles,
  type RunFigures,
} from './figures';
import { kafkaClientFromSettings } from './kafka-client';

const USAGE = `usage: ./tern bench [--running] [options]
  --running                  (first) measure the platform ./tern up started; without it, the services restart
                             on the bench world with a ClickHouse database of their own
  --rate N                   messages a second; 0 (default): as fast as it goes
  --duration S               seconds measured (default 60)
  --warmup S                 seconds of the same traffic first, drained and not counted in rates, latencies or
                             CPU, so a just-started platform is measured with its code compiled (default 30;
                             0 measures from cold)
  --mix KIND=W,...           kinds and their weights: otp, transactional, marketing (default transactional=1)
  --batch N                  messages per SendBatch call; 1: unary SendMessage (default 100)
  --in-flight N              calls in flight (default 8)
  --intake grpc|kafka        grpc (default): the calls above; kafka: signed SendEvents on sms.send-events as
                             a tenant's producer writes them (keyed by tenant), --batch a produce request,
                             --in-flight requests at once, signed with --event-key FILE as --event-key-id ID
                             (the bench tenant's: deploy/local/bench-event-key, local), brokers from
                             TERN_KAFKA_BROKERS
  --status-stream MODE       batches (StreamStatusBatches, default) or single (StreamStatus, one event per
                             response)
  --background KIND=COUNT    a backlog sent as fast as it is taken from the start, beside the messages above
                             (e.g. marketing=100000); latencies are printed per kind too
  --drain S                  seconds to wait for the last statuses and rows (default 180)
  --out DIR                  where the JSON goes (default .local/bench)
  --target HOST:PORT         the public gRPC API (default 127.0.0.1:50051), called with --api-key KEY as
                             --tenant ID (the local bench tenant's), over TLS with --ca FILE if given
  --sim URL                  the carrier simulator's HTTP port (default http://127.0.0.1:18800)
  --prefix DIGITS            numbers sent to: 7 digits after this prefix (default 659), the first
  --number-space N           N of them (default 9000000)
  --run-dir DIR, --metrics   given by ./tern bench: where the pid files are, the services' /metrics URLs
  --compare BEFORE,AFTER     two runs' JSON files side by side (rates, latencies, CPU a message per process,
                             as a Markdown table); starts nothing
  --check                    check the options and exit (./tern bench does, before it starts anything)
  --help                     this text`;

/** What `parse` makes of an option, or the usage with what is wrong (exit 2). */
function given<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    process.stderr.write(`bench: ${error instanceof Error ? error.message : String(error)}\n${USAGE}\n`);
    process.exit(2);
  }
}

/** A numeric option: a number, at least 0. */
function amount(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new Error(`--${name}: must be a number, at least 0 (got "${text}")`);
  return n;
}

const benchOptions = {
  target: { type: 'string', default: '127.0.0.1:50051' },
  'api-key': { type: 'string', default: 'tern-local-bench-key' },
  tenant: { type: 'string', default: 'bench' },
  ca: { type: 'string' },
  sim: { type: 'string', default: 'http://127.0.0.1:18800' },
  rate: { type: 'string', default: '0' },
  duration: { type: 'string', default: '60' },
  warmup: { type: 'string', default: '30' },
  mix: { type: 'string', default: 'transactional=1' },
  batch: { type: 'string', default: '100' },
  'in-flight': { type: 'string', default: '8' },
  intake: { type: 'string', default: 'grpc' },
  'event-key': { type: 'string', default: join(__dirname, '../../../deploy/local/bench-event-key') },
  'event-key-id': { type: 'string', default: 'local' },
  // How statuses are read: StreamStatusBatches (batches) or StreamStatus, one event per response (single).
  'status-stream': { type: 'string', default: 'batches' },
  background: { type: 'string' },
  drain: { type: 'string', default: '180' },
  // The bench world's numbers: 7 subscriber digits after 659 (Singtel in scenarios/bench.yaml), below
  // 6599 (not assigned in Singapore's plan).
  prefix: { type: 'string', default: '659' },
  'number-space': { type: 'string', default: '9000000' },
  'run-dir': { type: 'string', default: '.local' },
  out: { type: 'string', default: '.local/bench' },
  // The services' /metrics URLs, comma-separated (./tern bench gives them): batches fetched per group.
  metrics: { type: 'string', default: '' },
  compare: { type: 'string' },
  check: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;
const values = given(() => parseArgs({ options: benchOptions }).values);
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
if (values.compare !== undefined) {
  const files = values.compare.split(',');
  const [before, after] = given(() => {
    if (files.length !== 2) throw new Error(`--compare: two files, BEFORE,AFTER (got "${values.compare}")`);
    // Relative to where ./tern was called (pnpm runs this in tools/bench).
    return files.map((file) => {
      const path = resolve(process.env['INIT_CWD'] ?? process.cwd(), file);
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as RunFigures;
      } catch (error) {
        throw new Error(`--compare: ${path}: ${(error as Error).message}`);
      }
    });
  });
  process.stdout.write(comparisonTable(before!, after!));
  process.exit(0);
}

const RATE = given(() => amount('rate', values.rate));
const DURATION_S = given(() => amount('duration', values.duration));
const WARMUP_S = given(() => amount('warmup', values.warmup));
const DRAIN_S = given(() => amount('drain', values.drain));
const NUMBER_SPACE = given(() => amount('number-space', values['number-space']));
const BATCH = given(() => Math.max(1, amount('batch', values.batch)));
const IN_FLIGHT = given(() => Math.max(1, amount('in-flight', values['in-flight'])));
const MIX = given(() => parseMix(values.mix));
const { background } = values;
const BACKGROUND = background === undefined ? undefined : given(() => parseBackground(background));
given(() => {
  if (!['batches', 'single'].includes(values['status-stream']))
    throw new Error(`--status-stream: batches or single (got "${values['status-stream']}")`);
});
const INTAKE = given(() => {
  if (values.intake !== 'grpc' && values.intake !== 'kafka')
    throw new Error(`--intake: grpc or kafka (got "${values.intake}")`);
  return values.intake;
});
const EVENT_SECRET =
  INTAKE === 'kafka'
    ? given(() => {
        try {
          return readFileSync(values['event-key'], 'utf8').trim();
        } catch {
          throw new Error(`--event-key: cannot read ${values['event-key']}`);
        }
      })
    : '';
if (values.check) process.exit(0);
const TYPES: Record<MessageKind, sms.MessageType> = {
  otp: sms.MessageType.MESSAGE_TYPE_OTP,
  transactional: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL,
  marketing: sms.MessageType.MESSAGE_TYPE_MARKETING,
};

/** What became of one message, each time in epoch ms as seen here. */
interface Tracked {
  kind: MessageKind;
  /** One of the --background backlog. */
  background: boolean;
  /** Sent during the warm-up: checked against the carrier's truth, not counted in the figures. */
  warmup: boolean;
  calledAt: number;
  /**
   * When Tern took it: the API's answer, or (Kafka intake) the time of its ACCEPTED status, when the status
   * stream carried one.
   */
  acceptedAt?: number;
  /** Kafka intake: when the broker acknowledged its send event. */
  publishedAt?: number;
  refused?: string;
  messageId?: string;
  submits: number;
  submittedAt?: number;
  receiptAt?: number;
  receiptStat?: string;
  finalAt?: number;
  /** When Tern recorded the final status (the event's occurred_at). */
  finalRecordedAt?: number;
  /** When ingest added it to the tenant's stream (the time in its cursor). */
  finalStreamedAt?: number;
  finalStatus?: sms.MessageStatus;
}

const methods = {
  sendBatch: grpcMethod('tern.sms.v1.SmsService', 'SendBatch', sms.SendBatchRequest, sms.SendBatchResponse),
  sendMessage: grpcMethod(
    'tern.sms.v1.SmsService',
    'SendMessage',
    sms.SendMessageRequest,
    sms.SendMessageResponse,
  ),
  streamStatus: grpcMethod(
    'tern.sms.v1.SmsService',
    'StreamStatus',
    sms.StreamStatusRequest,
    sms.StatusEvent,
    true,
  ),
  streamStatusBatches: grpcMethod(
    'tern.sms.v1.SmsService',
    'StreamStatusBatches',
    sms.StreamStatusRequest,
    sms.StatusEventBatch,
    true,
  ),
};
type Client = grpc.Client & {
  sendBatch: (
    r: sms.SendBatchRequest,
    m: grpc.Metadata,
    done: (e: grpc.ServiceError | null, r?: sms.SendBatchResponse) => void,
  ) => void;
  sendMessage: (
    r: sms.SendMessageRequest,
    m: grpc.Metadata,
    done: (e: grpc.ServiceError | null, r?: sms.SendMessageResponse) => void,
  ) => void;
  streamStatus: (r: sms.StreamStatusRequest, m: grpc.Metadata) => grpc.ClientReadableStream<sms.StatusEvent>;
  streamStatusBatches: (
    r: sms.StreamStatusRequest,
    m: grpc.Metadata,
  ) => grpc.ClientReadableStream<sms.StatusEventBatch>;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Whether Tern owes the message a final status: the API accepted it, or (Kafka intake) the broker took its
 * send event. The truth is counted over these.
 */
const owed = (m: Tracked) => (INTAKE === 'kafka' ? m.publishedAt !== undefined : m.acceptedAt !== undefined);

class Bench {
  readonly messages: Tracked[] = [];
  /** Messages asked for so far (their indexes in `messages`, in call order). */
  private asked = 0;
  /** Destination digits (as the SMSC sees them) -> index in `messages`. */
  private readonly byNumber = new Map<string, number>();
  private readonly run = Date.now().toString(36);
  private readonly space = NUMBER_SPACE;
  private readonly offset = Math.floor(Math.random() * this.space);
  private readonly metadata = new grpc.Metadata();
  private readonly client: Client;
  private kafka: KafkaClient | undefined;
  private producer: TypedProducer | undefined;
  private simEvents: AbortController | undefined;
  private statusStream: grpc.ClientReadableStream<unknown> | undefined;
  readonly carrierDuplicates: string[] = [];
  statusEvents = 0;
  statusEventTimes: number[] = [];
  callErrors = new Map<string, number>();
  callLatencies: number[] = [];

  constructor() {
    this.metadata.set('x-api-key', values['api-key']);
    const Constructor = grpc.makeGenericClientConstructor(methods, 'SmsService');
    this.client = new Constructor(
      values.target,
      values.ca ? grpc.credentials.createSsl(readFileSync(values.ca)) : grpc.credentials.createInsecure(),
    ) as unknown as Client;
  }

  /** The Kafka intake's producer (--intake kafka), on the brokers the TERN_KAFKA_* settings name. */
  async connectIntake(): Promise<void> {
    if (INTAKE !== 'kafka') return;
    this.kafka = kafkaClientFromSettings('tern-bench');
    this.producer = this.kafka.producer();
    await this.producer.connect();
  }

  /** The carrier's side: every submission and receipt of this run's numbers, as it happens. */
  async followCarrier(): Promise<void> {
    this.simEvents = new AbortController();
    const res = await fetch(`${values.sim}/events`, { signal: this.simEvents.signal });
    if (!res.ok || !res.body) throw new Error(`carrier simulator at ${values.sim}: HTTP ${res.status}`);
    const decoder = new TextDecoder();
    let rest = '';
    void (async () => {
      try {
        for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
          const lines = (rest + decoder.decode(chunk, { stream: true })).split('\n');
          rest = lines.pop() ?? '';
          for (const line of lines) this.onCarrierEvent(JSON.parse(line) as CarrierEvent);
        }
      } catch (error) {
        if (!this.simEvents?.signal.aborted) throw error;
      }
    })();
  }

  private onCarrierEvent(event: CarrierEvent): void {
    const index = event.destination === undefined ? undefined : this.byNumber.get(event.destination);
    if (index === undefined) return;
    const m = this.messages[index]!;
    if (event.event === 'submit' && event.status === 'ESME_ROK') {
      m.submits++;
      m.submittedAt ??= event.at;
    } else if (event.event === 'receipt' && event.outcome === 'sent') {
      m.receiptAt ??= event.at;
      m.receiptStat = event.stat;
    } else if (event.event === 'duplicate') {
      this.carrierDuplicates.push(event.destination!);
    }
  }

  /** The customer's side: the tenant's status stream, from now on (one event or a batch per response). */
  followStatuses(): void {
    const request = sms.StreamStatusRequest.fromPartial({ since: new Date() });
    if (values['status-stream'] === 'single') {
      const stream = this.client.streamStatus(request, this.metadata);
      stream.on('data', (event: sms.StatusEvent) => this.onStatus(event, Date.now()));
      this.statusStream = stream;
    } else {
      const stream = this.client.streamStatusBatches(request, this.metadata);
      stream.on('data', (batch: sms.StatusEventBatch) => {
        const now = Date.now();
        for (const event of batch.events) this.onStatus(event, now);
      });
      this.statusStream = stream;
    }
    this.statusStream.on('error', (error: grpc.ServiceError) => {
      if (error.code !== grpc.status.CANCELLED) process.stderr.write(`status stream: ${error.message}\n`);
    });
  }

  private onStatus(event: sms.StatusEvent, now: number): void {
    this.statusEvents++;
    this.statusEventTimes.push(now);
    const index = this.indexOfReference(event.clientReference);
    const m = index === undefined ? undefined : this.messages[index];
    if (!m) return;
    m.messageId ??= event.messageId;
    if (INTAKE === 'kafka' && event.status === sms.MessageStatus.MESSAGE_STATUS_ACCEPTED)
      m.acceptedAt ??= event.occurredAt?.getTime();
    if (!FINAL_STATUSES.has(event.status)) return;
    m.finalAt ??= now;
    m.finalRecordedAt ??= event.occurredAt?.getTime();
    m.finalStreamedAt ??= Number(event.cursor.split('-')[0]);
    m.finalStatus = event.status;
  }

  private indexOfReference(reference: string): number | undefined {
    const prefix = `bench-${this.run}-`;
    return reference.startsWith(prefix) ? Number(reference.slice(prefix.length)) : undefined;
  }

  /** Whether the messages sent from now on are the warm-up's. */
  warmingUp = false;

  private request(i: number, kind: MessageKind, background: boolean): sms.SendMessageRequest {
    const number = subscriberNumber(values.prefix, 7, this.offset, i, this.space);
    this.byNumber.set(number, i);
    this.messages[i] = { kind, background, warmup: this.warmingUp, calledAt: Date.now(), submits: 0 };
    const code = String(100_000 + (i % 900_000));
    return sms.SendMessageRequest.fromPartial({
      to: `+${number}`,
      from: kind === 'otp' ? 'Tern' : 'TernShop',
      type: TYPES[kind],
      clientReference: `bench-${this.run}-${i}`,
      body:
        kind === 'otp'
          ? `Your Tern code is ${code}`
          : kind === 'transactional'
            ? `Your order ${code} has shipped and arrives tomorrow.`
            : `Weekend sale ${code}: 20% off everything. Reply STOP to opt out.`,
    });
  }

  /**
   * One call of `count` messages: of the mix's kinds in turn, or of the background's kind; what it answers
   * is recorded per message.
   */
  async send(count: number, background?: MessageKind): Promise<void> {
    const first = this.asked;
    this.asked += count;
    const requests = Array.from({ length: count }, (_, k) =>
      this.request(first + k, background ?? MIX[(first + k) % MIX.length]!, background !== undefined),
    );
    const started = Date.now();
    try {
      // The background is a bulk sender's: SendBatch whatever --batch says.
      if (this.producer) await this.publish(this.producer, first, requests);
      else if (BATCH === 1 && background === undefined) {
        const r = await new Promise<sms.SendMessageResponse>((resolve, reject) =>
          this.client.sendMessage(requests[0]!, this.metadata, (e, res) => (e ? reject(e) : resolve(res!))),
        );
        this.accepted(first, r.messageId);
      } else {
        const r = await new Promise<sms.SendBatchResponse>((resolve, reject) =>
          this.client.sendBatch({ messages: requests }, this.metadata, (e, res) =>
            e ? reject(e) : resolve(res!),
          ),
        );
        for (const item of r.results) {
          if (item.accepted) this.accepted(first + item.index, item.accepted.messageId);
          else this.refused(first + item.index, item.error?.code ?? 'UNKNOWN');
        }
      }
    } catch (error) {
      const code = this.producer
        ? 'NOT_PUBLISHED'
        : (grpc.status[(error as grpc.ServiceError).code] ?? 'ERROR');
      for (let k = 0; k < count; k++) this.refused(first + k, code);
    }
    this.callLatencies.push(Date.now() - started);
  }

  /** The Kafka intake: a signed event per message, enqueued together, so one produce request carries them. */
  private async publish(producer: TypedProducer, first: number, requests: sms.SendMessageRequest[]) {
    const keyId = values['event-key-id'];
    await Promise.all(
      requests.map((message, k) =>
        producer.enqueue(
          topics.sendEvents,
          signedSendEvent(
            { tenantId: values.tenant, keyId, eventId: `bench-${this.run}-${first + k}`, sentAt: new Date() },
            message,
            EVENT_SECRET,
          ),
        ),
      ),
    );
    const now = Date.now();
    for (let k = 0; k < requests.length; k++) this.messages[first + k]!.publishedAt = now;
  }

  private accepted(i: number, messageId: string): void {
    const m = this.messages[i]!;
    m.acceptedAt = Date.now();
    m.messageId = messageId;
  }

  private refused(i: number, code: string): void {
    this.messages[i]!.refused = code;
    this.callErrors.set(code, (this.callErrors.get(code) ?? 0) + 1);
  }

  async close(): Promise<void> {
    this.simEvents?.abort();
    this.statusStream?.cancel();
    this.client.close();
    await this.kafka?.disconnect();
  }
}

interface CarrierEvent {
  at: number;
  event: string;
  status?: string;
  destination?: string;
  outcome?: string;
  stat?: string;
}

/** Sends for `seconds`: at RATE messages a second, or (RATE 0) as fast as IN_FLIGHT calls allow. */
async function drive(bench: Bench, seconds: number): Promise<{ startedAt: number; endedAt: number }> {
  const startedAt = Date.now();
  const until = startedAt + seconds * 1000;
  let next = 0;
  const inFlight = new Set<Promise<void>>();
  while (Date.now() < until) {
    const due = RATE > 0 ? Math.floor(((Date.now() - startedAt) * RATE) / 1000) : Infinity;
    while (next < due && inFlight.size < IN_FLIGHT) {
      const count = RATE > 0 ? Math.min(BATCH, due - next) : BATCH;
      const call = bench.send(count).finally(() => inFlight.delete(call));
      inFlight.add(call);
      next += count;
    }
    // Open loop: wake for the next due message; closed loop: for the next free call.
    if (inFlight.size >= IN_FLIGHT || RATE === 0) await Promise.race(inFlight);
    else await sleep(Math.max(1, Math.min(20, (BATCH * 1000) / RATE)));
  }
  await Promise.all(inFlight);
  return { startedAt, endedAt: Date.now() };
}

/** How the background backlog is sent: as a bulk sender does, SendBatch of 100, 8 calls at once. */
const BACKGROUND_BATCH = 100;
const BACKGROUND_IN_FLIGHT = 8;

/** The background backlog: `count` messages of one kind, as fast as the API takes them. */
async function sendBackground(bench: Bench, { kind, count }: { kind: MessageKind; count: number }) {
  let left = count;
  const caller = async () => {
    while (left > 0) {
      const n = Math.min(BACKGROUND_BATCH, left);
      left -= n;
      await bench.send(n, kind);
    }
  };
  await Promise.all(Array.from({ length: BACKGROUND_IN_FLIGHT }, caller));
}

/** Finished attempt rows of this run's tenant in ClickHouse, counted once per message. */
async function attemptRows(since: number): Promise<number> {
  const url = process.env['TERN_CLICKHOUSE_URL'];
  if (!url) return NaN;
  const database = process.env['TERN_CLICKHOUSE_DATABASE'] ?? 'tern';
  const sinceSeconds = Math.floor(since / 1000);
  // The id bound only lets ClickHouse skip older rows (a second early, to be safe); accepted_at decides.
  const query =
    `SELECT uniqExact(message_id) FROM attempts WHERE message_id >= '${firstIdMintedAt((sinceSeconds - 1) * 1000)}' ` +
    `AND tenant_id = '${values.tenant}' AND accepted_at >= ${sinceSeconds} ` +
    `AND status IN ('DELIVERED', 'UNDELIVERED', 'EXPIRED', 'FAILED')`;
  const res = await fetch(`${url}/?database=${database}&query=${encodeURIComponent(query)}`);
  if (!res.ok) throw new Error(`ClickHouse: ${await res.text()}`);
  return Number((await res.text()).trim());
}

/**
 * Redis's `INFO` of its commands, memory and counters (the services' TERN_REDIS_URL), one section after
 * another; empty when there is no Redis to ask.
 */
async function redisInfo(): Promise<string> {
  const url = process.env['TERN_REDIS_URL'];
  if (!url) return '';
  const redis = sharedRedis({ redisUrl: url, redisTlsCaFile: process.env['TERN_REDIS_TLS_CA_FILE'] });
  try {
    const sections = [];
    for (const section of ['commandstats', 'memory', 'stats']) sections.push(await redis.info(section));
    return sections.join('\r\n');
  } catch {
    return '';
  } finally {
    redis.disconnect();
  }
}

/** Accept -> submit is told per stretch of this many ms of a run, with how the machine was meanwhile. */
const WINDOW_MS = 5000;

/**
 * Reads the machine about once a second until stopped: its CPUs' shares (/proc/stat) and whether a Redis
 * child runs (INFO persistence: an append-only-file rewrite or a snapshot), to tell a run's tail by moment.
 */
function sampleMachine(): () => Promise<MachineSample[]> {
  const url = process.env['TERN_REDIS_URL'];
  const redis = url
    ? sharedRedis({ redisUrl: url, redisTlsCaFile: process.env['TERN_REDIS_TLS_CA_FILE'] })
    : undefined;
  const cpuLine = () => readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const samples: MachineSample[] = [];
  let sampling = true;
  const loop = (async () => {
    let before = cpuLine();
    while (sampling) {
      await sleep(1000);
      const after = cpuLine();
      const shares = cpuShares(before, after);
      before = after;
      const persistence = await redis?.info('persistence').catch(() => '');
      const redisChild = /^(aof_rewrite|rdb_bgsave)_in_progress:1/m.test(persistence ?? '');
      if (shares) samples.push({ at: Date.now(), ...shares, redisChild });
    }
  })();
  return async () => {
    sampling = false;
    await loop;
    redis?.disconnect();
    return samples;
  };
}

/** The platform's processes by name, from the pid files `./tern up` and infra.sh keep. */
function platformProcesses(): Record<string, number> {
  const dir = values['run-dir'];
  const found: Record<string, number> = {};
  const add = (name: string, file: string) => {
    try {
      const pid = Number(readFileSync(file, 'utf8').trim());
      if (pid > 0) readFileSync(`/proc/${pid}/stat`, 'utf8'); // alive
      found[name] = pid;
    } catch {
      // not running
    }
  };
  for (const file of readdirSync(join(dir, 'run')).filter((f) => f.endsWith('.pid')))
    add(file.replace(/\.pid$/, ''), join(dir, 'run', file));
  for (const infra of ['kafka', 'redis', 'clickhouse']) add(infra, join(dir, infra, `${infra}.pid`));
  return found;
}

/** The services' /metrics (`--metrics`), joined; a service that does not answer adds nothing. */
async function scrapeServices(): Promise<string> {
  const urls = values.metrics.split(',').filter((url) => url !== '');
  const texts = await Promise.all(
    urls.map((url) =>
      fetch(url)
        .then((res) => res.text())
        .catch(() => ''),
    ),
  );
  return texts.join('\n');
}

/** The processes at a lower CPU priority (nice above 0), by name: latencies depend on it. */
function nicedProcesses(pids: Record<string, number>): Record<string, number> {
  const niced: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      const nice = niceOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (nice > 0) niced[name] = nice;
    } catch {
      // gone
    }
  }
  return niced;
}

function cpuTicks(pids: Record<string, number>): Record<string, number> {
  return Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => {
      try {
        return [name, processCpuTicksOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'))];
      } catch {
        return [name, NaN];
      }
    }),
  );
}

/** Ticks of each JIT compiler thread of each process (thread id -> ticks); none for a process without. */
function jitTicks(pids: Record<string, number>): Record<string, Map<number, number>> {
  return Object.fromEntries(
    Object.entries(pids).map(([name, pid]) => {
      const ticks = new Map<number, number>();
      let tids: string[] = [];
      try {
        tids = readdirSync(`/proc/${pid}/task`);
      } catch {
        // not running
      }
      for (const tid of tids) {
        try {
          const task = `/proc/${pid}/task/${tid}`;
          if (isJitCompilerThread(readFileSync(`${task}/comm`, 'utf8').trim()))
            ticks.set(Number(tid), cpuTicksOfStat(readFileSync(`${task}/stat`, 'utf8')));
        } catch {
          // the thread ended
        }
      }
      return [name, ticks];
    }),
  );
}

/** Each process's peak resident memory so far, MiB; a process gone or without one is left out. */
function peakResidentMib(pids: Record<string, number>): Record<string, number> {
  const peaks: Record<string, number> = {};
  for (const [name, pid] of Object.entries(pids)) {
    try {
      const mib = peakResidentMibOfStatus(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (mib !== undefined) peaks[name] = mib;
    } catch {
      // gone
    }
  }
  return peaks;
}

/** Each process run in a pod's memory cgroup (scripts/pod-memory.sh): its limit, peak and OOM kills. */
function podMemory(pids: Record<string, number>) {
  const pods: Record<string, { limitMib: number; peakMib: number; oomKills: number }> = {};
  const mib = (file: string) => Math.round(Number(readFileSync(file, 'utf8').trim()) / 2 ** 20);
  for (const [name, pid] of Object.entries(pids)) {
    try {
      const group = podCgroupDir(readFileSync(`/proc/${pid}/cgroup`, 'utf8'));
      if (!group) continue;
      const { dir, v2 } = group;
      pods[name] = {
        limitMib: mib(`${dir}/${v2 ? 'memory.max' : 'memory.limit_in_bytes'}`),
        peakMib: mib(`${dir}/${v2 ? 'memory.peak' : 'memory.max_usage_in_bytes'}`),
        oomKills: oomKillsOf(readFileSync(`${dir}/${v2 ? 'memory.events' : 'memory.oom_control'}`, 'utf8')),
      };
    } catch {
      // gone, or a kernel without the file
    }
  }
  return pods;
}

const round = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n) ? undefined : Number(n.toFixed(digits));

/**
 * The same traffic for WARMUP_S, then a wait until each message accepted has its final status and its
 * attempt row: a platform just started runs its first tens of seconds on code not yet compiled (a cold
 * minute measured 2.7 ms of CPU a message, the next 1.9 ms), and the measured run starts on an idle
 * pipeline. Its messages count in the truth, not in the figures.
 */
async function warmUp(bench: Bench): Promise<{ sent: number; accepted: number; rowsMissing: number }> {
  process.stderr.write(`[bench] warming up: ${WARMUP_S} s of the same traffic, not counted\n`);
  const since = Date.now();
  bench.warmingUp = true;
  await drive(bench, WARMUP_S);
  bench.warmingUp = false;
  const sent = bench.messages.length;
  const accepted = bench.messages.filter(owed);
  const drainUntil = Date.now() + DRAIN_S * 1000;
  const done = async () =>
    accepted.every((m) => m.finalAt !== undefined) && !((await attemptRows(since)) < accepted.length);
  while (Date.now() < drainUntil && !(await done())) await sleep(500);
  const rows = await attemptRows(since);
  // Attempt rows are told apart by the second of acceptance: the measured run starts in a later one.
  await sleep(1000);
  process.stderr.write(`[bench] warmed up: sent ${sent}, accepted ${accepted.length}\n`);
  return { sent, accepted: accepted.length, rowsMissing: Math.max(0, accepted.length - rows) };
}

async function main(): Promise<void> {
  const bench = new Bench();
  await bench.connectIntake();
  await bench.followCarrier();
  bench.followStatuses();
  await sleep(500); // both streams established before the first message
  const pids = platformProcesses();
  const loadBefore = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  const warmup = WARMUP_S > 0 ? await warmUp(bench) : undefined;
  const metricsBefore = await scrapeServices();
  const redisBefore = await redisInfo();
  const ticksBefore = cpuTicks(pids);
  const niced = nicedProcesses(pids);
  const jitBefore = jitTicks(pids);
  const ownBefore = process.cpuUsage();
  const how =
    INTAKE === 'kafka'
      ? `send events on Kafka, ${BATCH} a produce request, ${IN_FLIGHT} requests in flight`
      : `${BATCH === 1 ? 'unary SendMessage' : `SendBatch of ${BATCH}`}, ${IN_FLIGHT} calls in flight`;
  process.stderr.write(
    `[bench] sending for ${DURATION_S} s ${RATE > 0 ? `at ${RATE}/s` : 'as fast as it goes'}, ` +
      `${how}, mix ${values.mix}\n`,
  );
  // Attempt rows, polled every second from the first message on.
  const rowPolls: { at: number; count: number }[] = [];
  let polling = true;
  const sendStartedAt = Date.now();
  const pollRows = (async () => {
    while (polling) {
      rowPolls.push({ at: Date.now(), count: await attemptRows(sendStartedAt) });
      await sleep(1000);
    }
  })();
  if (BACKGROUND)
    process.stderr.write(
      `[bench] and from the start a backlog of ${BACKGROUND.count} ${BACKGROUND.kind} messages, as fast as taken\n`,
    );
  const background = BACKGROUND ? sendBackground(bench, BACKGROUND) : Promise.resolve();
  const machineSamples = sampleMachine();
  const { startedAt, endedAt } = await drive(bench, DURATION_S);
  const samples = await machineSamples();
  await background;
  const measured = bench.messages.filter((m) => !m.warmup);
  // Accepted by the API, or published on the Kafka intake: each is owed a final status.
  const accepted = measured.filter(owed);
  process.stderr.write(`[bench] sent ${measured.length}, accepted ${accepted.length}; draining\n`);

  // Drain: until every accepted message has a final status and its attempt row, or the drain time is up.
  const drainUntil = Date.now() + DRAIN_S * 1000;
  for (;;) {
    const finals = accepted.filter((m) => m.finalAt !== undefined).length;
    const rows = rowPolls.at(-1)?.count ?? 0;
    if ((finals === accepted.length && rows >= accepted.length) || Date.now() > drainUntil) break;
    await sleep(500);
  }
  polling = false;
  await pollRows;
  const rows = rowPolls.at(-1)?.count ?? 0;
  const doneAt = Date.now();
  const ticksAfter = cpuTicks(pids);
  const jitAfter = jitTicks(pids);
  const peakResident = peakResidentMib(pids);
  const pods = podMemory(pids);
  const own = process.cpuUsage(ownBefore);
  const metricsAfter = await scrapeServices();
  const redisAfter = await redisInfo();
  await sleep(1000); // duplicates would show up a little after
  await bench.close();

  const submitted = accepted.filter((m) => m.submittedAt !== undefined);
  const finals = accepted.filter((m) => m.finalAt !== undefined);
  // The truth covers the warm-up's messages too: one lost there is lost all the same.
  const warmAccepted = bench.messages.filter((m) => m.warmup && owed(m));
  const everyAccepted = [...warmAccepted, ...accepted];
  // The load generator and the carriers share the machine but are not the platform. Nor is the JIT compiling
  // of a JVM (the broker's) just started: shown apart as NAME-jit, as the warm-up keeps the services' out.
  const notPlatform = new Set(['carrier-sim', 'bench']);
  const cpu: Record<string, number> = {};
  for (const name of Object.keys(pids)) {
    const jit = cpuSeconds(0, threadTicksBetween(jitBefore[name]!, jitAfter[name]!));
    cpu[name] = cpuSeconds(ticksBefore[name]!, ticksAfter[name]!) - jit;
    if (jitAfter[name]!.size > 0) {
      cpu[`${name}-jit`] = jit;
      notPlatform.add(`${name}-jit`);
    }
  }
  cpu.bench = (own.user + own.system) / 1e6;
  const platformCpu = Object.entries(cpu)
    .filter(([name]) => !notPlatform.has(name))
    .reduce((sum, [, s]) => sum + s, 0);
  // Each message the truth finds wrong, by what is wrong with it: the count goes in the table, the first few
  // ids in the JSON, to look up in the console's message trace.
  const wrong = {
    lost: everyAccepted.filter((m) => m.submittedAt === undefined),
    submittedTwice: everyAccepted.filter((m) => m.submits > 1),
    noFinalStatus: everyAccepted.filter((m) => m.finalAt === undefined),
    statusAgainstReceipt: everyAccepted.filter(
      (m) =>
        m.receiptStat !== undefined &&
        m.finalStatus !== undefined &&
        (m.receiptStat === 'DELIVRD') !== (m.finalStatus === sms.MessageStatus.MESSAGE_STATUS_DELIVERED),
    ),
  };
  // A Kafka intake's message without an ACCEPTED status on the stream has no acceptance time: left out.
  const lat = (values: (number | undefined)[]): Percentiles => {
    const p = percentiles(values.filter((v) => v !== undefined));
    return { count: p.count, p50: round(p.p50), p95: round(p.p95), p99: round(p.p99), max: round(p.max) };
  };
  const wall = (doneAt - startedAt) / 1000;
  const acceptToSubmit = (m: Tracked) =>
    m.acceptedAt === undefined ? undefined : Math.max(0, m.submittedAt! - m.acceptedAt);
  const callToSubmit = (m: Tracked) => Math.max(0, m.submittedAt! - m.calledAt);
  const byGroup = new Map<string, Tracked[]>();
  for (const m of submitted) {
    const group = `${m.kind}${m.background ? ', background' : ''}`;
    const members = byGroup.get(group);
    if (members) members.push(m);
    else byGroup.set(group, [m]);
  }
  const groups = [...byGroup];
  const backlog = bench.messages.filter((m) => m.background);
  // Accept -> submit per stretch of the sending, with the machine's CPUs and Redis's children meanwhile.
  const stretches = latencyWindows(
    submitted.flatMap((m) => {
      const ms = acceptToSubmit(m);
      return ms === undefined ? [] : [{ acceptedAt: m.acceptedAt!, ms }];
    }),
    samples,
    startedAt,
    endedAt,
    WINDOW_MS,
  ).map((w) => ({
    ...w,
    p50: round(w.p50),
    p99: round(w.p99),
    busy: round(w.busy, 2),
    steal: round(w.steal, 2),
  }));
  const result = {
    at: new Date(startedAt).toISOString(),
    options: {
      rate: RATE,
      durationSeconds: DURATION_S,
      batch: BATCH,
      inFlight: IN_FLIGHT,
      mix: values.mix,
      statusStream: values['status-stream'],
      intake: INTAKE,
      target: values.target,
      background: values.background,
    },
    machine: {
      cores: readFileSync('/proc/cpuinfo', 'utf8').match(/^processor/gm)?.length,
      loadBefore,
      niced,
    },
    ...(warmup ? { warmup: { seconds: WARMUP_S, sent: warmup.sent, accepted: warmup.accepted } } : {}),
    counts: {
      sent: bench.messages.length,
      ...(INTAKE === 'kafka'
        ? { published: accepted.length, accepted: accepted.filter((m) => m.acceptedAt).length }
        : { accepted: accepted.length }),
      refused: Object.fromEntries(bench.callErrors),
      submitted: submitted.length,
      receipts: accepted.filter((m) => m.receiptAt !== undefined).length,
      finalStatuses: finals.length,
      attemptRows: rows,
      statusEvents: bench.statusEvents,
    },
    // Whether the background was still draining when the last message above was sent: it is the load.
    ...(BACKGROUND
      ? {
          background: {
            accepted: backlog.filter(owed).length,
            notSubmittedWhenSendingEnded: backlog.filter(
              (m) => owed(m) && !(m.submittedAt !== undefined && m.submittedAt <= endedAt),
            ).length,
          },
        }
      : {}),
    truth: {
      lost: wrong.lost.length,
      submittedTwice: wrong.submittedTwice.length,
      carrierDuplicates: bench.carrierDuplicates.length,
      noFinalStatus: wrong.noFinalStatus.length,
      // Finished attempt rows are counted per message, so fewer than the messages accepted is a row missing.
      noAttemptRow: Math.max(0, accepted.length - rows) + (warmup?.rowsMissing ?? 0),
      statusAgainstReceipt: wrong.statusAgainstReceipt.length,
    },
    truthExamples: Object.fromEntries(
      Object.entries(wrong)
        .filter(([, found]) => found.length > 0)
        .map(([what, found]) => [
          what,
          found.slice(0, 10).map((m) => ({ messageId: m.messageId, warmup: m.warmup, kind: m.kind })),
        ]),
    ),
    perSecond: {
      accepted: round(sustainedRate(accepted.flatMap((m) => (m.acceptedAt ? [m.acceptedAt] : [])))),
      submitSm: round(sustainedRate(submitted.map((m) => m.submittedAt!))),
      receipts: round(sustainedRate(accepted.flatMap((m) => (m.receiptAt ? [m.receiptAt] : [])))),
      statusEvents: round(sustainedRate(bench.statusEventTimes)),
      finalStatuses: round(sustainedRate(finals.map((m) => m.finalAt!))),
      attemptRows: round(sustainedRateOfCounts(rowPolls)),
      endToEnd: round(finals.length / wall),
    },
    latencyMs: {
      call: lat(bench.callLatencies),
      // From the API's answer, and from the call: the customer's wait, which the call's own time is in (and
      // an answer slowed on its way back makes acceptance look later than Tern took the message).
      acceptToSubmit: lat(submitted.map(acceptToSubmit)),
      callToSubmit: lat(submitted.map(callToSubmit)),
      // Per kind and whether of the background, when the run has more than one.
      ...(groups.length > 1
        ? Object.fromEntries(
            groups.flatMap(([group, members]) => [
              [`acceptToSubmit[${group}]`, lat(members.map(acceptToSubmit))],
              [`callToSubmit[${group}]`, lat(members.map(callToSubmit))],
            ]),
          )
        : {}),
      receiptToFinalStatus: lat(
        finals.flatMap((m) => (m.receiptAt ? [Math.max(0, m.finalAt! - m.receiptAt)] : [])),
      ),
      // The last leg in three: receipt to the status Tern recorded (dlr), recorded to the tenant's stream
      // (Kafka, ingest's status view), stream to the customer (StreamStatus).
      receiptToStatusRecorded: lat(
        finals.flatMap((m) =>
          m.receiptAt && m.finalRecordedAt ? [Math.max(0, m.finalRecordedAt - m.receiptAt)] : [],
        ),
      ),
      recordedToStreamed: lat(
        finals.flatMap((m) =>
          m.finalRecordedAt && m.finalStreamedAt ? [Math.max(0, m.finalStreamedAt - m.finalRecordedAt)] : [],
        ),
      ),
      streamedToClient: lat(
        finals.flatMap((m) => (m.finalStreamedAt ? [Math.max(0, m.finalAt! - m.finalStreamedAt)] : [])),
      ),
      acceptToFinalStatus: lat(finals.map((m) => (m.acceptedAt ? m.finalAt! - m.acceptedAt : undefined))),
    },
    latencyWindows: stretches,
    cpu: {
      wallSeconds: round(wall, 1),
      sendSeconds: round((endedAt - startedAt) / 1000, 1),
      seconds: Object.fromEntries(Object.entries(cpu).map(([n, s]) => [n, round(s, 1)])),
      perMessageMs: Object.fromEntries(
        Object.entries(cpu).map(([n, s]) => [n, round((s * 1000) / Math.max(1, finals.length), 3)]),
      ),
      platformPerMessageMs: round((platformCpu * 1000) / Math.max(1, finals.length), 3),
      // At least 95% busy in every stretch: CPU a message tells how full the machine was (see saturated()).
      machineSaturated: saturated(stretches),
      withChildren: true,
    },
    // Each consumer group's wait for its records, write to handling, and its calls' time (bucket bounds of
    // their percentiles, ms).
    kafkaRecordAgeMs: groupHistogram('tern_kafka_record_age_seconds', metricsBefore, metricsAfter),
    kafkaCallMs: groupHistogram('tern_kafka_handle_seconds', metricsBefore, metricsAfter),
    // Each process's produce requests, send to acknowledgement: what a handler awaiting a write waits for.
    kafkaProduceRequestMs: groupHistogram(
      'tern_kafka_produce_request_seconds',
      metricsBefore,
      metricsAfter,
      byService,
    ),
    // Each consumer group's fetched batches per message (from the services' metrics, with --metrics).
    kafkaBatchesPerMessage: Object.fromEntries(
      Object.entries(batchesPerMessage(metricsBefore, metricsAfter, finals.length)).map(([route, n]) => [
        route,
        round(n, 2),
      ]),
    ),
    // Every request the services' consumers and producers sent the brokers, per API, per message.
    kafkaRequestsPerMessage: Object.fromEntries(
      Object.entries(
        countedPerMessage('tern_kafka_requests_total', metricsBefore, metricsAfter, finals.length, byApi),
      ).map(([api, n]) => [api, round(n, 3)]),
    ),
    redisCommandsPerMessage: redisFigures(redisBefore, redisAfter, finals.length),
    redisMemoryPerMessage: redisMemoryPerMessage(redisBefore, redisAfter, finals.length),
    memory: {
      // Since each process started (the warm-up and any run before on a platform kept running included).
      peakResidentMib: Object.fromEntries(Object.entries(peakResident).map(([n, mib]) => [n, round(mib)])),
      // The processes run in a pod's memory cgroup (TERN_POD_MEMORY_MIB): its limit, the most it held (shared
      // pages and the page cache the process touched included) and the processes it killed for lack of it.
      ...(Object.keys(pods).length > 0 ? { pods } : {}),
      gcMsPerMessage: Object.fromEntries(
        Object.entries(gcMsPerMessage(metricsBefore, metricsAfter, finals.length)).map(([route, ms]) => [
          route,
          round(ms, 3),
        ]),
      ),
    },
  };
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, `bench-${result.at.replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  printTable(result);
  process.stdout.write(`figures: ${file}\n`);
  const t = result.truth;
  if (Object.values(t).some((count) => count > 0)) process.exitCode = 1;
}

/** Redis's commands a message, rounded; undefined when Redis could not be asked. */
function redisFigures(before: string, after: string, messages: number) {
  if (!before || !after) return undefined;
  const { commands, scriptCalls, byCommand } = redisCommandsPerMessage(before, after, messages);
  const rounded = Object.entries(byCommand)
    .map(([command, n]) => [command, Number(n.toFixed(2))] as const)
    .filter(([, n]) => n > 0);
  return {
    commands: round(commands, 1),
    scriptCalls: round(scriptCalls, 2),
    byCommand: Object.fromEntries(rounded),
  };
}

function printTable(r: {
  counts: Record<string, unknown>;
  warmup?: Record<string, number>;
  background?: Record<string, number>;
  truth: Record<string, number>;
  truthExamples: Record<string, { messageId?: string }[]>;
  perSecond: Record<string, number | undefined>;
  latencyMs: Record<string, Percentiles>;
  latencyWindows?: LatencyWindow[];
  cpu: {
    perMessageMs: Record<string, number | undefined>;
    platformPerMessageMs: number | undefined;
    machineSaturated?: boolean;
  };
  kafkaBatchesPerMessage: Record<string, number | undefined>;
  kafkaRecordAgeMs: Record<string, BucketBounds>;
  kafkaCallMs: Record<string, BucketBounds>;
  kafkaProduceRequestMs?: Record<string, BucketBounds>;
  kafkaRequestsPerMessage?: Record<string, number | undefined>;
  redisCommandsPerMessage: ReturnType<typeof redisFigures>;
  redisMemoryPerMessage?: ReturnType<typeof redisMemoryPerMessage>;
  memory: {
    peakResidentMib: Record<string, number | undefined>;
    gcMsPerMessage: Record<string, number | undefined>;
    pods?: ReturnType<typeof podMemory>;
  };
  machine: { loadBefore: string; niced: Record<string, number> };
}): void {
  const out: string[] = [];
  if (r.warmup) out.push(`warm-up  ${JSON.stringify(r.warmup)} (in the truth, not in the figures)`);
  out.push(`counts   ${JSON.stringify(r.counts)}`);
  if (r.background) out.push(`backlog  ${JSON.stringify(r.background)}`);
  out.push(`truth    ${JSON.stringify(r.truth)}`);
  for (const [what, found] of Object.entries(r.truthExamples))
    out.push(`wrong    ${what}: ${found.map((m) => m.messageId).join(' ')}`);
  out.push(
    'rate/s   ' +
      Object.entries(r.perSecond)
        .map(([k, v]) => `${k} ${v ?? '-'}`)
        .join(' | '),
  );
  for (const [name, p] of Object.entries(r.latencyMs))
    out.push(
      `latency  ${name.padEnd(30)} p50 ${p.p50 ?? '-'} p95 ${p.p95 ?? '-'} p99 ${p.p99 ?? '-'} max ${p.max ?? '-'} ms`,
    );
  const windows = r.latencyWindows ?? [];
  if (windows.length > 0) {
    const percent = (share: number | undefined) => (share === undefined ? '-' : Math.round(share * 100));
    out.push(
      `accept -> submit p99 ms by ${WINDOW_MS / 1000} s (R: a Redis child ran)  ` +
        windows.map((w) => `${w.p99 ?? '-'}${w.redisChild ? 'R' : ''}`).join(' '),
    );
    out.push(
      `machine busy/steal % by ${WINDOW_MS / 1000} s  ` +
        windows.map((w) => `${percent(w.busy)}/${percent(w.steal)}`).join(' '),
    );
  }
  out.push(
    'cpu ms/message  ' +
      Object.entries(r.cpu.perMessageMs)
        .map(([k, v]) => `${k} ${v ?? '-'}`)
        .join(' | ') +
      ` | platform total ${r.cpu.platformPerMessageMs ?? '-'}`,
  );
  if (r.cpu.machineSaturated)
    out.push(
      `cpu note  the machine was >= ${SATURATED_BUSY * 100}% busy in every stretch: at a fixed rate, CPU a message ` +
        'tells how full it was, not what a message costs (docs/operations.md, Benchmark)',
    );
  const batches = Object.entries(r.kafkaBatchesPerMessage);
  if (batches.length > 0)
    out.push(
      `kafka batches/message  total ${batches.reduce((sum, [, n]) => sum + (n ?? 0), 0).toFixed(2)} | ` +
        batches.map(([route, n]) => `${route} ${n ?? '-'}`).join(' | '),
    );
  const requests = Object.entries(r.kafkaRequestsPerMessage ?? {});
  if (requests.length > 0)
    out.push(
      `kafka requests/message  total ${requests.reduce((sum, [, n]) => sum + (n ?? 0), 0).toFixed(3)} | ` +
        requests.map(([api, n]) => `${api} ${n ?? '-'}`).join(' | '),
    );
  const ms = (bound: number) => (Number.isFinite(bound) ? bound : 'more');
  for (const [what, byGroup] of [
    ['kafka record age ms, write to handling', r.kafkaRecordAgeMs],
    ['kafka handler call ms', r.kafkaCallMs],
    ['kafka produce request ms, send to acknowledged', r.kafkaProduceRequestMs ?? {}],
  ] as const) {
    const groups = Object.entries(byGroup).sort(([, a], [, b]) => b.p99 - a.p99 || b.count - a.count);
    if (groups.length > 0)
      out.push(
        `${what} (p50/p95/p99 within)  ` +
          groups.map(([route, a]) => `${route} ${ms(a.p50)}/${ms(a.p95)}/${ms(a.p99)}`).join(' | '),
      );
  }
  const redis = r.redisCommandsPerMessage;
  if (redis)
    out.push(
      `redis commands/message  total ${redis.commands} (${redis.scriptCalls} script calls; their commands ` +
        `counted too) | ${Object.entries(redis.byCommand)
          .map(([command, n]) => `${command} ${n}`)
          .join(' | ')}`,
    );
  const memory = r.redisMemoryPerMessage;
  if (memory)
    out.push(
      `redis memory/message  ${Math.round(memory.bytes)} bytes (used_memory's growth; ` +
        `${memory.expiredKeys} keys expired meanwhile)`,
    );
  const listed = (figures: Record<string, number | undefined>) =>
    Object.entries(figures)
      .map(([name, n]) => `${name} ${n ?? '-'}`)
      .join(' | ');
  out.push(`peak resident MiB  ${listed(r.memory.peakResidentMib)}`);
  const pods = Object.entries(r.memory.pods ?? {});
  if (pods.length > 0)
    out.push(
      `pod memory MiB, peak of limit  ` +
        pods
          .map(
            ([name, p]) =>
              `${name} ${p.peakMib}/${p.limitMib}${p.oomKills > 0 ? ` (${p.oomKills} OOM kills)` : ''}`,
          )
          .join(' | '),
    );
  if (Object.keys(r.memory.gcMsPerMessage).length > 0)
    out.push(`gc pause ms/message  ${listed(r.memory.gcMsPerMessage)}`);
  out.push(`load average before: ${r.machine.loadBefore}`);
  if (nicedList(r.machine.niced)) out.push(`at a lower CPU priority (nice): ${nicedList(r.machine.niced)}`);
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
