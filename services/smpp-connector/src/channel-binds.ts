import { connect } from 'node:net';
import {
  ResponseTimeoutError,
  SessionClosedError,
  SmppSession,
  Status,
  statusName,
  TokenBucket,
  type Pdu,
  type ShortMessageBody,
} from '@tern/smpp';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Counter, Gauge, Histogram } from 'prom-client';
import type { ChannelWait } from '@tern/sms-domain';
import type { ChannelConfig } from './domain/channel';
import { QueueWaits } from './domain/queue-waits';
import { rebindWaitCeilingMs } from './domain/rebind';

type Role = 'transceiver' | 'transmitter' | 'receiver';
type SlotState = 'connecting' | 'bound' | 'down';

interface Slot {
  index: number;
  role: Role;
  state: SlotState;
  session: SmppSession | undefined;
  bucket: TokenBucket;
  /** After ESME_RTHROTTLED / ESME_RMSGQFUL this bind rests until then. */
  restUntil: number;
  busyStreak: number;
  lastError: string | undefined;
  /** Window places taken by submissions about to be written (claim in progress): they count as in flight. */
  reserved: number;
}

/** How a submission ended at the SMSC. `unknown`: it may or may not have been taken (timeout, bind lost). */
export type SubmitOutcome =
  | { kind: 'answered'; status: number; messageId: string }
  | { kind: 'unknown'; reason: string }
  | { kind: 'no-bind'; reason: string }
  | { kind: 'not-sent'; reason: string };

/** Called with a bind in hand, right before the submit_sm is written; false: do not send it. */
export type BeforeSend = () => Promise<boolean>;

const bindState = new Gauge({
  name: 'tern_smpp_binds',
  help: 'Binds per channel and state',
  labelNames: ['channel', 'state'],
  registers: [metricsRegistry],
});
const lateAnswers = new Counter({
  name: 'tern_smpp_late_submit_resp_total',
  help: 'submit_sm_resp that came after the response timeout and were still taken as the answer',
  labelNames: ['channel'],
  registers: [metricsRegistry],
});
const submits = new Counter({
  name: 'tern_smpp_submit_total',
  help: 'submit_sm responses per channel and command status',
  labelNames: ['channel', 'status'],
  registers: [metricsRegistry],
});
const submitSeconds = new Histogram({
  name: 'tern_smpp_submit_seconds',
  help: 'submit_sm to submit_sm_resp',
  labelNames: ['channel'],
  buckets: [0.002, 0.01, 0.05, 0.2, 1, 5],
  registers: [metricsRegistry],
});

export type DeliverHandler = (pdu: Pdu<'deliver_sm'>, session: SmppSession) => void;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The binds of one channel: keeps each one connected and bound (reconnecting with exponential back-off and
 * full jitter), detects dead peers with enquire_link, spreads submissions over bound binds within each bind's
 * window and TPS, rests a bind that is told to slow down, and hands receipts to the receipt handler.
 */
export class ChannelBinds {
  private readonly slots: Slot[];
  private stopped = false;
  /** Submissions waiting for room, by class, in the order they began to wait. */
  private readonly waiting = { urgent: new Set<() => void>(), bulk: new Set<() => void>() };
  /**
   * Submissions outstanding by class, and how long they take from their call to the SMSC's answer (see
   * queueWait). While any urgent one is outstanding, bulk ones do not take window or TPS.
   */
  private readonly waits = { urgent: new QueueWaits(Date.now()), bulk: new QueueWaits(Date.now()) };

  constructor(
    readonly config: ChannelConfig,
    private readonly password: string,
    private readonly log: Logger,
    private readonly onDeliver: DeliverHandler,
  ) {
    const roles: Role[] = config.bindMode === 'transceiver' ? ['transceiver'] : ['transmitter', 'receiver'];
    const burst = Math.max(1, Math.ceil(config.tpsPerBind / 10));
    this.slots = Array.from({ length: config.binds }, (_, i) => i).flatMap((i) =>
      roles.map((role) => ({
        index: i,
        role,
        state: 'down',
        session: undefined,
        // A tenth of a second of burst: the TPS is respected over any 100 ms, not just per second.
        bucket: new TokenBucket(config.tpsPerBind, Date.now(), burst),
        restUntil: 0,
        busyStreak: 0,
        lastError: undefined,
        reserved: 0,
      })),
    );
  }

  start(): void {
    for (const slot of this.slots) void this.keepBound(slot);
  }

  /** Unbinds every bind and stops reconnecting. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await Promise.all(this.slots.map((s) => s.session?.unbind() ?? Promise.resolve()));
  }

  /** Whether a bind that receives (receipts come on transceiver and receiver binds) is bound now. */
  canReceive(): boolean {
    return this.slots.some((s) => s.state === 'bound' && s.role !== 'transmitter');
  }

  /** Binds that can submit, and all binds, per state: for health and metrics. */
  state(): { canSubmit: number; binds: { role: Role; state: SlotState; lastError?: string }[] } {
    return {
      canSubmit: this.slots.filter((s) => s.state === 'bound' && s.role !== 'receiver').length,
      binds: this.slots.map((s) => ({
        role: s.role,
        state: s.state,
        ...(s.lastError ? { lastError: s.lastError } : {}),
      })),
    };
  }

  /**
   * Submits one part: waits (up to `wait.busyMs`) for a bound bind with room in its window and its TPS, and
   * submits again on ESME_RTHROTTLED / ESME_RMSGQFUL after resting that bind. While no bind of the channel
   * is bound at all (an outage, not a busy channel) it waits `wait.downMs` at most, so the attempt fails over
   * to another channel instead of queueing here and bursting out when the channel returns. Never sends a
   * part again once it may have reached the SMSC: a timeout or a lost bind with the request out answers
   * `unknown`.
   */
  async submit(
    body: ShortMessageBody,
    wait: { busyMs: number; downMs: number },
    urgent = false,
    beforeSend?: BeforeSend,
  ): Promise<SubmitOutcome> {
    // Strict priority: while an urgent submission (OTP, transactional) is outstanding on this channel, bulk
    // ones take no window or TPS, so a marketing blast never delays a login code.
    const waits = urgent ? this.waits.urgent : this.waits.bulk;
    const waiting = waits.enter(Date.now());
    try {
      return await this.submitWhenFree(body, Date.now() + wait.busyMs, wait.downMs, urgent, beforeSend);
    } finally {
      waits.leave(waiting, Date.now());
      this.wake();
    }
  }

  /**
   * How long a submission takes here now, from its call to the SMSC's answer, urgent and bulk (which also
   * waits for every urgent one): the window's round trip on a channel that keeps up, seconds on one whose
   * SMSC throttles below its rate or whose binds are gone (see QueueWaits). Each look starts a new period.
   */
  queueWait(now = Date.now()): ChannelWait {
    const { urgent, bulk } = this.waits;
    let written = 0;
    for (const s of this.slots) written += (s.session?.inFlight ?? 0) + s.reserved;
    // Not yet written: urgent ones first, bulk ones behind every queued one.
    const queued = Math.max(0, urgent.outstanding + bulk.outstanding - written);
    const urgentMs = urgent.take(now, Math.min(queued, urgent.outstanding));
    return { urgentMs, bulkMs: Math.max(urgentMs, bulk.take(now, queued)) };
  }

  private async submitWhenFree(
    body: ShortMessageBody,
    deadline: number,
    downMs: number,
    urgent: boolean,
    beforeSend: BeforeSend | undefined,
  ): Promise<SubmitOutcome> {
    let cleared = beforeSend === undefined;
    let downSince: number | undefined;
    for (;;) {
      if (this.stopped) return { kind: 'no-bind', reason: 'connector stopping' };
      const slot = urgent || this.waits.urgent.outstanding === 0 ? this.pick() : undefined;
      if (!slot?.session) {
        const now = Date.now();
        const down = !this.slots.some((s) => s.state === 'bound' && s.role !== 'receiver');
        downSince = down ? (downSince ?? now) : undefined;
        if (now >= deadline || (downSince !== undefined && now - downSince >= downMs)) {
          const why = down
            ? `${this.config.id} has no bound bind`
            : `no bind of ${this.config.id} could take it`;
          return { kind: 'no-bind', reason: why };
        }
        await this.waitForRoom(Math.min(50, Math.max(1, deadline - Date.now())), urgent);
        continue;
      }
      if (!cleared) {
        slot.reserved++;
        let go: boolean | undefined;
        try {
          go = await beforeSend?.();
        } finally {
          slot.reserved--;
        }
        if (!go) return { kind: 'not-sent', reason: 'refused before sending' };
        cleared = true;
        if (!slot.session || slot.session.isClosed) continue; // the bind went while we asked: nothing was sent
      }
      const started = process.hrtime.bigint();
      let resp: Pdu<'submit_sm_resp'>;
      try {
        resp = await slot.session.request('submit_sm', body);
      } catch (error) {
        if (error instanceof ResponseTimeoutError) {
          // Its window slot is free again; the answer, if it still comes, decides the attempt.
          this.wake();
          const late = (await error.late) as Pdu<'submit_sm_resp'> | undefined;
          if (!late) return { kind: 'unknown', reason: `${error.message}, nor later` };
          lateAnswers.inc({ channel: this.config.id });
          resp = late;
        } else if (error instanceof SessionClosedError) {
          return { kind: 'unknown', reason: error.message };
        } else throw error;
      } finally {
        this.wake();
      }
      submitSeconds.observe({ channel: this.config.id }, Number(process.hrtime.bigint() - started) / 1e9);
      submits.inc({ channel: this.config.id, status: statusName.get(resp.status) ?? String(resp.status) });
      if (resp.status === Status.ESME_RTHROTTLED || resp.status === Status.ESME_RMSGQFUL) {
        // Slow down: rest this bind, longer each time in a row, and submit the same part again.
        slot.busyStreak++;
        slot.restUntil = Date.now() + Math.min(5000, 50 * 2 ** Math.min(slot.busyStreak, 7));
        continue;
      }
      slot.busyStreak = 0;
      return { kind: 'answered', status: resp.status, messageId: resp.body.messageId };
    }
  }

  private pick(): Slot | undefined {
    const now = Date.now();
    let best: Slot | undefined;
    for (const s of this.slots) {
      if (s.state !== 'bound' || s.role === 'receiver' || !s.session || s.restUntil > now) continue;
      const used = s.session.inFlight + s.reserved;
      if (used >= this.config.window) continue;
      if (!best || (best.session?.inFlight ?? 0) + best.reserved > used) best = s;
    }
    if (best && !best.bucket.take(this.config.tpsPerBind, now)) return undefined;
    return best;
  }

  private waitForRoom(ms: number, urgent: boolean): Promise<void> {
    const waiting = urgent ? this.waiting.urgent : this.waiting.bulk;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiting.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      waiting.add(done);
    });
  }

  /**
   * Wakes as many waiting submissions as the windows have room for, urgent ones first, bulk ones only when
   * no urgent one is outstanding (every waiter when stopping). Waking every waiter at each answer cost the
   * connector a timer and a promise per waiter per answer under a burst, a tenth of what it allocated. A
   * waiter the TPS or a resting bind holds back is woken by its own timer.
   */
  private wake(): void {
    let room = this.stopped ? Infinity : this.room();
    const wakeFrom = (waiting: Set<() => void>) => {
      for (const done of waiting) {
        if (room <= 0) return;
        room--;
        done();
      }
    };
    wakeFrom(this.waiting.urgent);
    if (this.waits.urgent.outstanding === 0 || this.stopped) wakeFrom(this.waiting.bulk);
  }

  /** Free places in the windows of the binds that submit and are not resting. */
  private room(): number {
    const now = Date.now();
    let room = 0;
    for (const s of this.slots)
      if (s.state === 'bound' && s.role !== 'receiver' && s.session && s.restUntil <= now)
        room += Math.max(0, this.config.window - s.session.inFlight - s.reserved);
    return room;
  }

  private async keepBound(slot: Slot): Promise<void> {
    let failures = 0;
    /** Since when the bind has been down: its start, or the loss of its last session. */
    let downSince = Date.now();
    while (!this.stopped) {
      this.setState(slot, 'connecting');
      try {
        const session = await this.bind(slot);
        failures = 0;
        slot.session = session;
        slot.lastError = undefined;
        this.setState(slot, 'bound');
        this.log.info({ channel: this.config.id, bind: slot.index, role: slot.role }, 'bound');
        this.wake();
        await new Promise<void>((resolve) => session.once('close', resolve));
        downSince = Date.now();
        if (!this.stopped)
          this.log.warn({ channel: this.config.id, bind: slot.index, role: slot.role }, 'bind lost');
      } catch (error) {
        slot.lastError = (error as Error).message;
        this.log.warn(
          { channel: this.config.id, bind: slot.index, role: slot.role, error: slot.lastError },
          'bind failed',
        );
      }
      slot.session = undefined;
      this.setState(slot, 'down');
      if (this.stopped) break;
      await sleep(Math.random() * rebindWaitCeilingMs(failures++, Date.now() - downSince));
    }
  }

  private async bind(slot: Slot): Promise<SmppSession> {
    const socket = connect({ host: this.config.host, port: this.config.port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve).once('error', reject);
      socket.setTimeout(this.config.responseTimeoutMs, () => socket.destroy(new Error('connect timed out')));
    });
    socket.setTimeout(0);
    const session = new SmppSession(socket, {
      responseTimeoutMs: this.config.responseTimeoutMs,
      lateResponseMs: this.config.lateResponseMs,
      enquireLinkIntervalMs: this.config.enquireLinkIntervalMs,
    });
    session.on('request', (pdu) => {
      if (pdu.command === 'deliver_sm') this.onDeliver(pdu, session);
      else session.respond(pdu as Pdu<'data_sm'>, Status.ESME_RINVCMDID, { messageId: '' });
    });
    const resp = await session.request(`bind_${slot.role}`, {
      systemId: this.config.systemId,
      password: this.password,
      systemType: this.config.systemType,
      interfaceVersion: 0x34,
      addrTon: 0,
      addrNpi: 0,
      addressRange: '',
    });
    if (resp.status !== Status.ESME_ROK) {
      session.destroy();
      throw new Error(`bind refused: ${statusName.get(resp.status) ?? resp.status}`);
    }
    return session;
  }

  private setState(slot: Slot, state: SlotState): void {
    slot.state = state;
    for (const s of ['connecting', 'bound', 'down'] as const) {
      bindState.set({ channel: this.config.id, state: s }, this.slots.filter((x) => x.state === s).length);
    }
  }
}
