import { createWriteStream, type WriteStream } from 'node:fs';
import { quantile } from './quantile';
import type { FinalStat } from './world';

export interface ChannelTruth {
  bindsAccepted: number;
  bindsRefused: Record<string, number>;
  /** submit_sm accepted (one per part: each part is an SMS the carrier bills). */
  partsAccepted: number;
  submitsRefused: Record<string, number>;
  /** Whole messages (all parts arrived), by final state. */
  messages: Record<FinalStat, number>;
  /** Messages whose parts never all arrived. */
  incompleteMessages: number;
  /** The same content to the same number again within the duplicate window: what a platform must never do. */
  duplicates: number;
  senderOverwritten: number;
  receiptsSent: number;
  /** The sent ones by what they said: what a platform that loses none can report (parts, like `receiptsSent`). */
  receiptsSentByStat: Record<FinalStat, number>;
  receiptsLost: number;
  receiptsQueuedNow: number;
  /** Receipts that said DELIVRD for a message the route did not deliver. */
  fakeReceipts: number;
  /** Codes of this channel's OTPs the users used, as reported to the platform. */
  conversions: number;
  /** Simulated submit-to-receipt latency of delivered messages, ms. */
  deliveredLatencyMs: number[];
  byCarrier: Record<string, Record<FinalStat, number>>;
}

const emptyOutcomes = (): Record<FinalStat, number> => ({ DELIVRD: 0, UNDELIV: 0, EXPIRED: 0, REJECTD: 0 });

export type TruthEvent =
  | { event: 'bind'; channel: string; mode: string; status: string }
  | {
      event: 'submit';
      channel: string;
      status: string;
      messageId?: string;
      destination?: string;
      parts?: number;
    }
  | {
      event: 'message';
      channel: string;
      carrier: string;
      stat: FinalStat;
      err: string;
      parts: number;
      latencyMs: number;
      rule?: string;
      /** What the receipt claimed instead of `stat` (a route faking DELIVRD). */
      claimed?: FinalStat;
    }
  | {
      event: 'receipt';
      channel: string;
      messageId: string;
      destination: string;
      stat: FinalStat;
      outcome: 'sent' | 'queued' | 'lost';
    }
  | { event: 'duplicate'; channel: string; destination: string }
  /** A user used the code of a delivered OTP, and the tenant's backend reported it (`outcome`: its answer). */
  | { event: 'conversion'; channel: string; outcome: string }
  | { event: 'outage'; channel: string; phase: 'start' | 'end' };

/** A truth event with the real time (epoch ms) it happened: what GET /events streams. */
export type TimedTruthEvent = TruthEvent & { at: number };

/**
 * What really happened, recorded by the simulator itself: tests and benchmarks count delivered, duplicated
 * and lost messages here instead of trusting Tern. Message text never enters it.
 */
export class GroundTruth {
  readonly channels: Record<string, ChannelTruth> = {};
  private readonly log: WriteStream | undefined;
  private readonly listeners = new Set<(event: TimedTruthEvent) => void>();

  constructor(channelIds: readonly string[], logPath?: string) {
    for (const id of channelIds) {
      this.channels[id] = {
        bindsAccepted: 0,
        bindsRefused: {},
        partsAccepted: 0,
        submitsRefused: {},
        messages: emptyOutcomes(),
        incompleteMessages: 0,
        duplicates: 0,
        senderOverwritten: 0,
        receiptsSent: 0,
        receiptsSentByStat: emptyOutcomes(),
        receiptsLost: 0,
        receiptsQueuedNow: 0,
        fakeReceipts: 0,
        conversions: 0,
        deliveredLatencyMs: [],
        byCarrier: {},
      };
    }
    this.log = logPath ? createWriteStream(logPath, { flags: 'a' }) : undefined;
  }

  channel(id: string): ChannelTruth {
    const c = this.channels[id];
    if (!c) throw new Error(`unknown channel ${id}`);
    return c;
  }

  record(event: TruthEvent, simMs: number): void {
    const c = this.channel(event.channel);
    switch (event.event) {
      case 'bind':
        if (event.status === 'ESME_ROK') c.bindsAccepted++;
        else c.bindsRefused[event.status] = (c.bindsRefused[event.status] ?? 0) + 1;
        break;
      case 'submit':
        if (event.status === 'ESME_ROK') c.partsAccepted++;
        else c.submitsRefused[event.status] = (c.submitsRefused[event.status] ?? 0) + 1;
        break;
      case 'message': {
        c.messages[event.stat]++;
        const byCarrier = (c.byCarrier[event.carrier] ??= emptyOutcomes());
        byCarrier[event.stat]++;
        if (event.stat === 'DELIVRD') c.deliveredLatencyMs.push(event.latencyMs);
        if (event.claimed === 'DELIVRD') c.fakeReceipts++;
        break;
      }
      case 'conversion':
        if (event.outcome === 'reported') c.conversions++;
        break;
      case 'receipt':
        if (event.outcome === 'sent') {
          c.receiptsSent++;
          c.receiptsSentByStat[event.stat]++;
        } else if (event.outcome === 'lost') c.receiptsLost++;
        break;
      case 'duplicate':
        c.duplicates++;
        break;
      case 'outage':
        break;
    }
    this.log?.write(
      `${JSON.stringify({ at: new Date().toISOString(), simMs: Math.round(simMs), ...event })}\n`,
    );
    if (this.listeners.size > 0) {
      const timed = { at: Date.now(), ...event };
      for (const listener of this.listeners) listener(timed);
    }
  }

  /** Calls `listener` with every event from now on, stamped with the real time; returns the unsubscribe. */
  listen(listener: (event: TimedTruthEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Counts per channel with latency quantiles instead of raw samples: what GET /stats serves. */
  summary(): Record<string, unknown> {
    return Object.fromEntries(
      Object.entries(this.channels).map(([id, c]) => {
        const { deliveredLatencyMs, ...counts } = c;
        return [id, { ...counts, deliveredLatencyMs: quantiles(deliveredLatencyMs) }];
      }),
    );
  }

  async close(): Promise<void> {
    const log = this.log;
    if (log) await new Promise<void>((resolve) => log.end(resolve));
  }
}

export function quantiles(values: readonly number[]): {
  count: number;
  p50: number | null;
  p95: number | null;
} {
  return { count: values.length, p50: quantile(values, 0.5) ?? null, p95: quantile(values, 0.95) ?? null };
}
