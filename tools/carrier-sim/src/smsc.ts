import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server } from 'node:net';
import {
  addressOf,
  DataCoding,
  deliveryReceipt,
  SmppSession,
  Status,
  TokenBucket,
  statusName,
  tlv,
  Tlv,
  Ton,
  type BindBody,
  type Pdu,
  type ShortMessageBody,
} from '@tern/smpp';
import { encodeGsm7, encodeUcs2, isGsm7, type Concatenation } from '@tern/sms-domain';
import type { SimClock } from './clock';
import type { GroundTruth } from './ground-truth';
import type { Random } from './random';
import type { ChannelSpec } from './scenario';
import { validateSubmit } from './submit-validation';
import { type Fate, type FinalStat, type World } from './world';

type BindMode = 'transmitter' | 'receiver' | 'transceiver';

interface Bound {
  session: SmppSession;
  mode: BindMode | undefined;
  /** submit_sm received and not answered yet: the SMSC-side window. */
  submitsInHand: number;
}

interface Part {
  messageId: string;
  text: string;
  submitSim: number;
  receiptWanted: 'always' | 'failure' | 'never';
}

interface Message {
  number: string;
  sender: string;
  senderKind: 'alphanumeric' | 'numeric';
  carrierId: string;
  destination: NonNullable<ReturnType<World['resolve']>>;
  parts: Map<number, Part>;
  total: number;
  timer?: NodeJS.Timeout;
}

interface Receipt {
  messageId: string;
  handset: string;
  esme: string;
  stat: FinalStat;
  err: string;
  submitSim: number;
  doneSim: number;
  text: string;
}

/** What waits for a receiver bind: a receipt, or a mobile-originated message (e.g. a STOP reply). */
type Outgoing = { kind: 'receipt'; receipt: Receipt } | { kind: 'mo'; body: ShortMessageBody };

/** How long the parts of a concatenated message wait for the rest (simulated time). */
const ASSEMBLY_TIMEOUT_SIM_MS = 10 * 60_000;
/** The same content to the same number within this window counts as a duplicate (simulated time). */
const DUPLICATE_WINDOW_SIM_MS = 10 * 60_000;

/** A whole message as the handset would show it: for tests that check what arrived, never logged. */
export interface ArrivedMessage {
  channel: string;
  number: string;
  sender: string;
  text: string;
  parts: number;
  stat: FinalStat;
  /** Simulated ms from acceptance to the handset (or to the failure), as the receipt will report. */
  latencyMs: number;
}

export interface SmscContext {
  world: World;
  clock: SimClock;
  random: Random;
  truth: GroundTruth;
  host: string;
  onMessage?: ((message: ArrivedMessage) => void) | undefined;
}

/**
 * One channel's SMSC: a real SMPP 3.4 server on its own port. It authenticates binds, caps binds and TPS,
 * keeps a window per bind, validates and accepts submit_sm, draws each message's fate from the scenario,
 * and sends delivery receipts when their time comes, queueing them while no receiver is bound.
 */
export class Smsc {
  private server: Server | undefined;
  private readonly bound = new Set<Bound>();
  private readonly bucket: TokenBucket;
  private readonly assemblies = new Map<string, Message>();
  private readonly recent = new Map<string, number>();
  private readonly receipts: Outgoing[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextId: number;
  private receiptCursor = 0;
  /** deliver_sm sent and not answered yet. */
  private readonly sending = new Set<Promise<void>>();
  private receiptsHeld = false;
  private stopped = false;

  constructor(
    readonly spec: ChannelSpec,
    private readonly ctx: SmscContext,
  ) {
    this.bucket = new TokenBucket(spec.tps, Date.now());
    this.nextId = 1_000_000_000 + Math.floor(ctx.random.next() * 1_000_000_000);
  }

  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? 0;
  }

  async start(): Promise<void> {
    this.server = createServer((socket) =>
      this.accept(new SmppSession(socket, { responseTimeoutMs: 30_000 })),
    );
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', reject).listen(this.spec.port, this.ctx.host, () => resolve());
    });
    for (const e of this.ctx.world.scenario.timeline) {
      if (e.channel === this.spec.id && e.event === 'outage') this.scheduleOutage(e.from, e.until);
    }
  }

  /** Takes the channel down from `from` to `until` (simulated ms), beside the scenario's timeline. */
  outage(from: number, until: number): void {
    this.ctx.world.addEvent({ event: 'outage', channel: this.spec.id, from, until });
    this.scheduleOutage(from, until);
  }

  private scheduleOutage(from: number, until: number): void {
    this.after(this.ctx.clock.realDelay(from - this.ctx.clock.now()), () => {
      this.ctx.truth.record({ event: 'outage', channel: this.spec.id, phase: 'start' }, this.ctx.clock.now());
      // An outage drops the binds in place; new ones are refused until it ends.
      for (const b of this.bound) b.session.destroy();
    });
    this.after(this.ctx.clock.realDelay(until - this.ctx.clock.now()), () => {
      this.ctx.truth.record({ event: 'outage', channel: this.spec.id, phase: 'end' }, this.ctx.clock.now());
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const b of this.bound) b.session.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /**
   * Sends no more receipts or mobile-originated messages (those that come due stay queued); resolves once
   * the ones already sent are answered or given up.
   */
  async holdReceipts(): Promise<void> {
    this.receiptsHeld = true;
    await Promise.all(this.sending);
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private accept(session: SmppSession): void {
    const b: Bound = { session, mode: undefined, submitsInHand: 0 };
    this.bound.add(b);
    session.on('request', (pdu) => this.onRequest(b, pdu));
    session.on('close', () => {
      this.bound.delete(b);
    });
  }

  private onRequest(b: Bound, pdu: Pdu): void {
    switch (pdu.command) {
      case 'bind_transmitter':
      case 'bind_receiver':
      case 'bind_transceiver':
        return this.onBind(b, pdu);
      case 'submit_sm':
        return this.onSubmit(b, pdu);
      case 'data_sm':
        return b.session.respond(pdu, Status.ESME_RINVCMDID, { messageId: '' });
      case 'submit_multi':
        return b.session.respond(pdu, Status.ESME_RINVCMDID, { messageId: '' });
      case 'deliver_sm':
        // An ESME does not deliver to an SMSC.
        return b.session.respond(pdu, Status.ESME_RINVCMDID, { messageId: '' });
      default:
        return;
    }
  }

  private onBind(b: Bound, pdu: Pdu<'bind_transmitter' | 'bind_receiver' | 'bind_transceiver'>): void {
    const mode = pdu.command.replace('bind_', '') as BindMode;
    const status = this.bindStatus(b, pdu.body);
    this.ctx.truth.record(
      { event: 'bind', channel: this.spec.id, mode, status: statusName.get(status) ?? String(status) },
      this.ctx.clock.now(),
    );
    if (status !== Status.ESME_ROK) {
      b.session.respond(pdu, status, { systemId: '', tlvs: [] });
      return;
    }
    b.mode = mode;
    b.session.respond(pdu, Status.ESME_ROK, {
      systemId: 'TERNSIM',
      tlvs: [tlv.u8(Tlv.sc_interface_version, 0x34)],
    });
    if (mode !== 'transmitter') this.pumpReceipts();
  }

  private bindStatus(b: Bound, body: BindBody): number {
    if (b.mode) return Status.ESME_RALYBND;
    if (this.ctx.world.isDown(this.spec.id, this.ctx.clock.now())) return Status.ESME_RBINDFAIL;
    if (body.systemId !== this.spec.systemId) return Status.ESME_RINVSYSID;
    if (body.password !== this.spec.password) return Status.ESME_RINVPASWD;
    const binds = [...this.bound].filter((x) => x.mode).length;
    if (binds >= this.spec.maxBinds) return Status.ESME_RBINDFAIL;
    return Status.ESME_ROK;
  }

  private onSubmit(b: Bound, pdu: Pdu<'submit_sm'>): void {
    const now = this.ctx.clock.now();
    const refuse = (status: number) => {
      this.ctx.truth.record(
        { event: 'submit', channel: this.spec.id, status: statusName.get(status) ?? String(status) },
        now,
      );
      b.session.respond(pdu, status, { messageId: '' });
    };
    if (b.mode !== 'transmitter' && b.mode !== 'transceiver') return refuse(Status.ESME_RINVBNDSTS);
    if (b.submitsInHand >= this.spec.window) return refuse(Status.ESME_RMSGQFUL);
    if (!this.bucket.take(this.ctx.world.tps(this.spec, now), Date.now()))
      return refuse(Status.ESME_RTHROTTLED);
    const verdict = validateSubmit(pdu.body, this.spec, this.ctx.world);
    if (!verdict.ok) return refuse(verdict.status);

    const messageId = this.newMessageId();
    b.submitsInHand++;
    const answer = () => {
      b.submitsInHand--;
      b.session.respond(pdu, Status.ESME_ROK, { messageId });
    };
    if (this.spec.submitDelayMs > 0) this.after(this.spec.submitDelayMs, answer);
    else answer();

    this.ctx.truth.record(
      {
        event: 'submit',
        channel: this.spec.id,
        status: 'ESME_ROK',
        messageId,
        destination: verdict.number,
        parts: verdict.concatenation?.total ?? 1,
      },
      now,
    );
    this.checkDuplicate(verdict.number, pdu.body.shortMessage, now);
    const part: Part = {
      messageId,
      text: verdict.text,
      submitSim: now,
      receiptWanted: receiptWanted(pdu.body),
    };
    this.addPart(
      {
        number: verdict.number,
        sender: verdict.sender,
        senderKind: verdict.senderKind,
        carrierId: verdict.destination.carrier.id,
        destination: verdict.destination,
        parts: new Map(),
        total: verdict.concatenation?.total ?? 1,
      },
      part,
      verdict.concatenation,
    );
  }

  private addPart(fresh: Message, part: Part, concatenation: Concatenation | undefined): void {
    if (!concatenation) {
      fresh.parts.set(1, part);
      return this.complete(fresh);
    }
    const key = `${fresh.sender}|${fresh.number}|${concatenation.reference}|${concatenation.total}`;
    let message = this.assemblies.get(key);
    if (!message) {
      message = fresh;
      this.assemblies.set(key, message);
      const m = message;
      this.after(this.ctx.clock.realDelay(ASSEMBLY_TIMEOUT_SIM_MS), () => {
        if (this.assemblies.get(key) !== m) return;
        this.assemblies.delete(key);
        this.ctx.truth.channel(this.spec.id).incompleteMessages++;
        // The handset never got the whole text: each part that arrived is reported undeliverable.
        const fate: Fate = { stat: 'UNDELIV', err: '034', latencyMs: 0, receiptLost: false };
        for (const p of m.parts.values()) this.scheduleReceipt(m, p, fate);
      });
    }
    message.parts.set(concatenation.sequence, part);
    if (message.parts.size === message.total) {
      this.assemblies.delete(key);
      this.complete(message);
    }
  }

  /** All parts are in: draw the message's fate once and schedule a receipt per part. */
  private complete(message: Message): void {
    const ordered = [...message.parts.entries()].sort(([a], [b]) => a - b).map(([, p]) => p);
    const now = this.ctx.clock.now();
    const text = ordered.map((p) => p.text).join('');
    const fate = this.ctx.world.fate(
      {
        channel: this.spec,
        destination: message.destination,
        sender: message.sender,
        senderKind: message.senderKind,
        text,
        simTime: now,
      },
      this.ctx.random,
    );
    this.ctx.onMessage?.({
      channel: this.spec.id,
      number: message.number,
      sender: message.sender,
      text,
      parts: message.total,
      stat: fate.stat,
      latencyMs: fate.latencyMs,
    });
    if (fate.senderOverwritten) this.ctx.truth.channel(this.spec.id).senderOverwritten++;
    this.ctx.truth.record(
      {
        event: 'message',
        channel: this.spec.id,
        carrier: message.carrierId,
        stat: fate.stat,
        err: fate.err,
        parts: message.total,
        latencyMs: fate.latencyMs,
        ...(fate.rule ? { rule: fate.rule } : {}),
        ...(fate.claimed ? { claimed: fate.claimed.stat } : {}),
      },
      now,
    );
    for (const part of ordered) this.scheduleReceipt(message, part, fate);
  }

  private scheduleReceipt(message: Message, part: Part, fate: Fate): void {
    // What the receipt says, which a lying route makes DELIVRD.
    const { stat, err } = fate.claimed ?? fate;
    if (part.receiptWanted === 'never' || (part.receiptWanted === 'failure' && stat === 'DELIVRD')) return;
    const receiptId = this.receiptId(part.messageId);
    if (fate.receiptLost) {
      this.ctx.truth.record(
        {
          event: 'receipt',
          channel: this.spec.id,
          messageId: receiptId,
          destination: message.number,
          stat,
          outcome: 'lost',
        },
        this.ctx.clock.now(),
      );
      return;
    }
    const doneSim = part.submitSim + fate.latencyMs;
    this.after(this.ctx.clock.realDelay(doneSim - this.ctx.clock.now()), () => {
      this.receipts.push({
        kind: 'receipt',
        receipt: {
          messageId: receiptId,
          handset: message.number,
          esme: message.sender,
          stat,
          err,
          submitSim: part.submitSim,
          doneSim,
          text: isGsm7(part.text) ? part.text.slice(0, 20) : '',
        },
      });
      this.pumpReceipts();
    });
  }

  /** Sends queued receipts to bound receivers in turn, within each bind's window; the rest wait for a bind. */
  private pumpReceipts(): void {
    const truth = this.ctx.truth.channel(this.spec.id);
    const receivers = [...this.bound].filter(
      (b) => (b.mode === 'receiver' || b.mode === 'transceiver') && !b.session.isClosed,
    );
    while (this.receipts.length > 0 && !this.receiptsHeld) {
      const target = this.nextReceiver(receivers);
      if (!target) break;
      const item = this.receipts.shift() as Outgoing;
      const body = item.kind === 'receipt' ? this.receiptBody(item.receipt) : item.body;
      const sending: Promise<void> = target.session
        .request('deliver_sm', body)
        .then((resp) => {
          if (resp.status === Status.ESME_ROK) {
            if (item.kind === 'receipt') {
              const { messageId, handset, stat } = item.receipt;
              this.ctx.truth.record(
                {
                  event: 'receipt',
                  channel: this.spec.id,
                  messageId,
                  destination: handset,
                  stat,
                  outcome: 'sent',
                },
                this.ctx.clock.now(),
              );
            }
            this.pumpReceipts();
          } else {
            // The ESME refused it (busy, or a bug on its side): keep it and try again a bit later.
            this.receipts.push(item);
            this.after(1000, () => this.pumpReceipts());
          }
        })
        .catch(() => {
          // Bind lost, or no answer in time: the receipt is sent again (it may arrive twice), on another bind
          // if one is up, as an SMSC retries its pending receipts on a timer. Waiting only for the next bind
          // or the next receipt left it queued for good when neither came.
          this.receipts.unshift(item);
          this.after(1000, () => this.pumpReceipts());
        })
        .finally(() => {
          truth.receiptsQueuedNow = this.receipts.length;
          this.sending.delete(sending);
        });
      this.sending.add(sending);
    }
    truth.receiptsQueuedNow = this.receipts.length;
  }

  /** A handset replies (e.g. STOP): a mobile-originated deliver_sm to the ESME, queued like receipts. */
  sendMobileOriginated(from: string, to: string, text: string): void {
    const alphanumeric = /[^\d+]/.test(to);
    this.receipts.push({
      kind: 'mo',
      body: {
        ...this.receiptBody({
          messageId: '',
          handset: from,
          esme: to,
          stat: 'DELIVRD',
          err: '000',
          submitSim: 0,
          doneSim: 0,
          text: '',
        }),
        destAddrTon: alphanumeric ? Ton.ALPHANUMERIC : Ton.INTERNATIONAL,
        esmClass: 0,
        shortMessage: isGsm7(text) ? encodeGsm7(text) : encodeUcs2(text),
        dataCoding: isGsm7(text) ? DataCoding.SMSC_DEFAULT : DataCoding.UCS2,
        tlvs: [],
      },
    });
    this.pumpReceipts();
  }

  /** Round-robin over receivers that have room in their window. */
  private nextReceiver(receivers: readonly Bound[]): Bound | undefined {
    for (let k = 0; k < receivers.length; k++) {
      const index = (this.receiptCursor + k) % receivers.length;
      const candidate = receivers[index];
      if (candidate && candidate.session.inFlight < this.spec.window) {
        this.receiptCursor = index + 1;
        return candidate;
      }
    }
    return undefined;
  }

  private receiptBody(r: Receipt): ShortMessageBody {
    return deliveryReceipt({
      id: r.messageId,
      submitted: 1,
      delivered: r.stat === 'DELIVRD' ? 1 : 0,
      submitDate: this.ctx.clock.date(r.submitSim),
      doneDate: this.ctx.clock.date(r.doneSim),
      stat: r.stat,
      err: r.err,
      text: r.text,
      handset: { ton: Ton.INTERNATIONAL, npi: 1, addr: r.handset },
      esme: addressOf(r.esme),
    });
  }

  private newMessageId(): string {
    const n = this.nextId++;
    switch (this.spec.messageIdFormat) {
      case 'decimal':
        return String(n);
      case 'hex':
        return n.toString(16).toUpperCase();
      case 'uuid': {
        const hex = Array.from({ length: 32 }, () =>
          Math.floor(this.ctx.random.next() * 16).toString(16),
        ).join('');
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      }
    }
  }

  /** The id as this SMSC writes it in receipts: possibly in another base than submit_sm_resp gave it. */
  private receiptId(submitId: string): string {
    const from = this.spec.messageIdFormat;
    const to = this.spec.receiptIdFormat;
    if (to === 'same' || to === from || from === 'uuid') return submitId;
    const n = from === 'hex' ? BigInt(`0x${submitId}`) : BigInt(submitId);
    return to === 'hex' ? n.toString(16).toUpperCase() : n.toString(10);
  }

  private checkDuplicate(number: string, shortMessage: Buffer, now: number): void {
    const key = `${number}|${createHash('sha1').update(shortMessage).digest('hex')}`;
    const seen = this.recent.get(key);
    if (seen !== undefined && now - seen < DUPLICATE_WINDOW_SIM_MS) {
      this.ctx.truth.record({ event: 'duplicate', channel: this.spec.id, destination: number }, now);
    }
    // Re-inserted, so the map stays in arrival order and the expired entries are always at its front:
    // pruning costs only what expires (a scan of the whole window per submission made a busy run quadratic).
    this.recent.delete(key);
    this.recent.set(key, now);
    for (const [k, t] of this.recent) {
      if (now - t < DUPLICATE_WINDOW_SIM_MS) break;
      this.recent.delete(k);
    }
  }
}

/** registered_delivery bits 0-1 (section 5.2.17): 1 = receipt on success or failure, 2 = on failure only. */
function receiptWanted(body: ShortMessageBody): Part['receiptWanted'] {
  switch (body.registeredDelivery & 0x03) {
    case 1:
      return 'always';
    case 2:
      return 'failure';
    default:
      return 'never';
  }
}
