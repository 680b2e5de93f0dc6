import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SimClock } from './clock';
import { drawConversion, referenceInText, reportConversion, type ConversionReporting } from './conversions';
import { GroundTruth } from './ground-truth';
import { Random } from './random';
import type { Scenario, TimelineEvent } from './scenario';
import { Smsc, type ArrivedMessage } from './smsc';
import { World } from './world';

export interface SimulatorOptions {
  scenario: Scenario;
  /** Simulated ms per real ms: 10 runs a 30-minute scenario in 3 minutes. */
  timeScale?: number;
  seed?: number;
  host?: string;
  /** Port of the ground-truth HTTP endpoint; 0 picks a free one; undefined: no endpoint. */
  httpPort?: number;
  /** JSONL file of every bind, submission, message, receipt and refusal. */
  logPath?: string;
  /** Called with each whole message and its text (tests that check what arrived); text is never logged. */
  onMessage?: (message: ArrivedMessage) => void;
}

/** The whole simulated carrier network of a scenario: one SMSC per channel, plus the ground truth. */
export class CarrierSimulator {
  readonly truth: GroundTruth;
  readonly clock: SimClock;
  readonly world: World;
  private readonly smscs: Smsc[];
  private readonly random: Random;
  private http: Server | undefined;
  private conversions: ConversionReporting | undefined;
  private stopped = false;
  /** Users about to type a code. */
  private readonly typing = new Set<NodeJS.Timeout>();

  constructor(private readonly options: SimulatorOptions) {
    const { scenario } = options;
    this.world = new World(scenario);
    this.clock = new SimClock(options.timeScale ?? 1);
    this.truth = new GroundTruth(
      scenario.channels.map((c) => c.id),
      options.logPath,
    );
    const random = new Random(options.seed ?? 1);
    this.random = random;
    const host = options.host ?? '127.0.0.1';
    this.smscs = scenario.channels.map(
      (spec) =>
        new Smsc(spec, {
          world: this.world,
          clock: this.clock,
          random,
          truth: this.truth,
          host,
          onMessage: (message) => {
            options.onMessage?.(message);
            this.userOf(message);
          },
        }),
    );
  }

  async start(): Promise<void> {
    await Promise.all(this.smscs.map((s) => s.start()));
    if (this.options.httpPort !== undefined) {
      this.http = createServer((req, res) => {
        if (req.method === 'POST' && req.url === '/mo') return this.receiveMo(req, res);
        if (req.url === '/events') return this.streamEvents(res);
        const body = req.url === '/stats' ? this.stats() : req.url === '/health' ? { ok: true } : undefined;
        res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body ?? { error: 'GET /stats, GET /events, GET /health or POST /mo' }));
      });
      await new Promise<void>((resolve) =>
        this.http?.listen(this.options.httpPort, this.options.host ?? '127.0.0.1', resolve),
      );
    }
  }

  /**
   * From now on, the users of delivered OTPs use their codes as the scenario's `conversion` model says, and
   * each use is reported to the platform as the tenant's backend would.
   */
  reportConversionsTo(reporting: ConversionReporting): void {
    this.conversions = reporting;
  }

  /** The handset's user: uses a delivered OTP's code, or not, and the tenant's backend reports it. */
  private userOf(message: ArrivedMessage): void {
    const model = this.options.scenario.conversion;
    const reporting = this.conversions;
    if (!model || !reporting || message.stat !== 'DELIVRD') return;
    if (model.unusedRanges.some((range) => message.number.startsWith(range))) return;
    const reference = (reporting.referenceOf ?? referenceInText)(message.text);
    if (!reference) return;
    // A tenant whose backend reports no conversions: its users still type their codes, unseen.
    const apiKey = reporting.apiKeyOf(reference);
    if (!apiKey) return;
    const usedAfterMs = drawConversion(model, message.latencyMs, this.random);
    if (usedAfterMs === undefined) return;
    const timer = setTimeout(() => {
      this.typing.delete(timer);
      void reportConversion(reporting.apiUrl, apiKey, reference).then((outcome) => {
        if (!this.stopped) {
          this.truth.record({ event: 'conversion', channel: message.channel, outcome }, this.clock.now());
        }
      });
    }, this.clock.realDelay(usedAfterMs));
    this.typing.add(timer);
  }

  /**
   * Ends the flow of receipts (and mobile-originated messages) to the platform, for a run that has settled:
   * resolves once those already sent are answered, so `receiptsSent` then counts all it will ever have had.
   */
  async holdReceipts(): Promise<void> {
    await Promise.all(this.smscs.map((s) => s.holdReceipts()));
  }

  /** Takes a channel down now for `simMs` of simulated time: binds dropped, new ones refused. */
  outage(channelId: string, simMs: number): void {
    const now = this.clock.now();
    this.smsc(channelId).outage(now, now + simMs);
  }

  /**
   * Plays timeline events counted from now rather than from the simulator's start: a test starts the
   * platform on a quiet network first, then lets the scenario's story begin with its traffic.
   */
  play(timeline: readonly TimelineEvent[]): void {
    const now = this.clock.now();
    for (const event of timeline) {
      const shifted = { ...event, from: now + event.from, until: now + event.until };
      if (shifted.event === 'outage') this.smsc(shifted.channel).outage(shifted.from, shifted.until);
      else this.world.addEvent(shifted);
    }
  }

  private smsc(channelId: string): Smsc {
    const smsc = this.smscs.find((s) => s.spec.id === channelId);
    if (!smsc) throw new Error(`unknown channel ${channelId}`);
    return smsc;
  }

  /** A handset sends a message (e.g. a STOP reply) to an ESME over a channel. */
  sendMobileOriginated(channelId: string, from: string, to: string, text: string): void {
    this.smsc(channelId).sendMobileOriginated(from, to, text);
  }

  /** Channel id -> SMPP port, as bound (ports 0 in the scenario get a free one). */
  ports(): Record<string, number> {
    return Object.fromEntries(this.smscs.map((s) => [s.spec.id, s.port]));
  }

  get httpPort(): number | undefined {
    return (this.http?.address() as AddressInfo | null)?.port;
  }

  /**
   * GET /events: every truth event from now on, one JSON object per line with its real time (`at`, epoch
   * ms), for as long as the client stays; what a benchmark counts submissions and receipts from.
   */
  private streamEvents(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    let pending: string[] = [];
    // One write per tick instead of per event: thousands of events a second stay cheap.
    const flush = () => {
      if (pending.length > 0) res.write(pending.join(''));
      pending = [];
    };
    const timer = setInterval(flush, 50);
    const unsubscribe = this.truth.listen((event) => pending.push(`${JSON.stringify(event)}\n`));
    res.on('close', () => {
      clearInterval(timer);
      unsubscribe();
    });
  }

  /** POST /mo {"channel","from","to","text"}: a handset replies, e.g. STOP, for demos and manual tests. */
  private receiveMo(req: IncomingMessage, res: ServerResponse): void {
    let raw = '';
    req.on('data', (chunk: Buffer) => (raw += chunk.toString()));
    req.on('end', () => {
      try {
        const mo = JSON.parse(raw) as { channel?: unknown; from?: unknown; to?: unknown; text?: unknown };
        if (
          typeof mo.channel !== 'string' ||
          typeof mo.from !== 'string' ||
          typeof mo.to !== 'string' ||
          typeof mo.text !== 'string'
        ) {
          throw new Error('need channel, from, to and text (strings)');
        }
        this.sendMobileOriginated(mo.channel, mo.from, mo.to, mo.text);
        res.writeHead(202, { 'content-type': 'application/json' }).end('{"queued":true}');
      } catch (e) {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: (e as Error).message }));
      }
    });
  }

  stats(): Record<string, unknown> {
    return {
      scenario: this.options.scenario.name,
      timeScale: this.clock.timeScale,
      simulatedMs: Math.round(this.clock.now()),
      ports: this.ports(),
      channels: this.truth.summary(),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.typing) clearTimeout(timer);
    await Promise.all(this.smscs.map((s) => s.stop()));
    // An /events client stays connected until it leaves: closing the server alone would wait for it.
    this.http?.closeAllConnections();
    await new Promise<void>((resolve) => (this.http ? this.http.close(() => resolve()) : resolve()));
    await this.truth.close();
  }
}
