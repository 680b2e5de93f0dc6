import type {
  CarrierSpec,
  ChannelSpec,
  CountrySpec,
  DeliveryModel,
  Scenario,
  TimelineEvent,
} from './scenario';
import type { Random } from './random';

export type FinalStat = 'DELIVRD' | 'UNDELIV' | 'EXPIRED' | 'REJECTD';

/** Network error codes used in receipts (`err:` and network_error_code): GSM MAP causes, as carriers report them. */
export const NETWORK_ERRORS = {
  none: '000',
  unknownSubscriber: '001',
  absentSubscriber: '027',
  systemFailure: '034',
  senderFiltered: '068',
  contentFiltered: '069',
} as const;

// What a route's failure reports: the handset was away, or the network failed. A number that does not exist
// is the number's fate on every route (the world's invalidRanges), so a route never reports one by chance;
// a platform that trusts "unknown subscriber" and stops retrying is right to.
const UNDELIV_CAUSES = [
  [NETWORK_ERRORS.absentSubscriber, 4],
  [NETWORK_ERRORS.systemFailure, 2],
] as const;

export interface Destination {
  country: CountrySpec;
  carrier: CarrierSpec;
  /** The number lies in a range that does not exist. */
  invalid: boolean;
}

export interface Fate {
  stat: FinalStat;
  err: string;
  /** Simulated milliseconds from submission to the receipt. */
  latencyMs: number;
  /** The receipt never comes (but the ground truth still knows what happened). */
  receiptLost: boolean;
  /** Why, when a carrier rule decided it: content filter, sender rule, non-existent range. */
  rule?: string;
  senderOverwritten?: boolean;
  /** What the receipt says when it lies (a fake DELIVRD for a message that was not delivered). */
  claimed?: { stat: FinalStat; err: string };
}

export type SenderKind = 'alphanumeric' | 'numeric';

/**
 * The simulated world at a point of simulated time: who owns a number, what a channel's route to a carrier
 * does now (timeline applied), and what carriers do with content and senders. Pure: time and randomness
 * come from the caller.
 */
export class World {
  /** Events added while running (an outage on demand), besides the scenario's timeline. */
  private readonly added: TimelineEvent[] = [];
  private readonly prefixes: { prefix: string; country: CountrySpec; carrier: CarrierSpec }[];

  constructor(readonly scenario: Scenario) {
    this.prefixes = scenario.countries
      .flatMap((country) =>
        country.carriers.flatMap((carrier) =>
          carrier.prefixes.map((prefix) => ({ prefix, country, carrier })),
        ),
      )
      // Longest prefix first, so "6591" wins over "65".
      .sort((a, b) => b.prefix.length - a.prefix.length);
  }

  channel(id: string): ChannelSpec | undefined {
    return this.scenario.channels.find((c) => c.id === id);
  }

  /** The carrier owning an international number (digits, no +), by longest prefix. */
  resolve(number: string): Destination | undefined {
    const hit = this.prefixes.find((p) => number.startsWith(p.prefix));
    if (!hit) return undefined;
    const invalid = hit.country.invalidRanges.some((r) => number.startsWith(r));
    return { country: hit.country, carrier: hit.carrier, invalid };
  }

  isDown(channelId: string, simTime: number): boolean {
    return this.activeEvents(channelId, simTime).some((e) => e.event === 'outage');
  }

  /** The channel's TPS now: congestion events lower it. */
  tps(channel: ChannelSpec, simTime: number): number {
    const limits = this.activeEvents(channel.id, simTime).flatMap((e) =>
      e.event === 'congestion' ? [e.tps] : [],
    );
    return Math.min(channel.tps, ...limits);
  }

  /** The channel's route to a carrier now: its model, with any degradation active at this time. */
  model(channel: ChannelSpec, carrierId: string, simTime: number): DeliveryModel {
    const base = channel.carriers[carrierId] ?? channel.default;
    let deliveryRate = base.deliveryRate;
    let latencyFactor = 1;
    for (const e of this.activeEvents(channel.id, simTime)) {
      if (e.event !== 'degrade' || (e.carrier && e.carrier !== carrierId)) continue;
      deliveryRate *= e.deliveryFactor;
      latencyFactor *= e.latencyFactor;
    }
    return {
      ...base,
      deliveryRate,
      latency: { p50: base.latency.p50 * latencyFactor, p95: base.latency.p95 * latencyFactor },
    };
  }

  /** What the destination carrier does with a sender: deliver, filter, or overwrite it. */
  senderVerdict(country: CountrySpec, sender: string, kind: SenderKind): 'ok' | 'filtered' | 'overwritten' {
    if (kind !== 'alphanumeric') return 'ok';
    const rules = country.senders;
    const accepted =
      rules.alphanumeric === 'allowed' ||
      (rules.alphanumeric === 'registered' && rules.registeredSenders.includes(sender));
    if (accepted) return 'ok';
    return rules.onViolation === 'filter' ? 'filtered' : 'overwritten';
  }

  /** The reason of the first content filter of the carrier that matches the text. */
  contentVerdict(carrier: CarrierSpec, text: string): string | undefined {
    return carrier.contentFilters.find((f) => new RegExp(f.pattern, 'i').test(text))?.reason;
  }

  /** Draws what happens to an accepted message: carrier rules first, then the route's model. */
  fate(
    input: {
      channel: ChannelSpec;
      destination: Destination;
      sender: string;
      senderKind: SenderKind;
      text: string;
      simTime: number;
    },
    random: Random,
  ): Fate {
    const { channel, destination, simTime } = input;
    const model = this.model(channel, destination.carrier.id, simTime);
    const latency = () => random.logNormal(model.latency.p50, model.latency.p95);
    const receiptLost = random.next() < model.receiptLossRate;
    // Carrier rules answer fast: the message is refused at the destination network, not after retries.
    const ruleLatency = () => random.logNormal(model.latency.p50 / 2, model.latency.p95 / 2);
    if (destination.invalid) {
      return {
        stat: 'UNDELIV',
        err: NETWORK_ERRORS.unknownSubscriber,
        latencyMs: ruleLatency(),
        receiptLost,
        rule: 'invalid-range',
      };
    }
    const filter = this.contentVerdict(destination.carrier, input.text);
    if (filter)
      return {
        stat: 'REJECTD',
        err: NETWORK_ERRORS.contentFiltered,
        latencyMs: ruleLatency(),
        receiptLost,
        rule: `content:${filter}`,
      };
    const sender = this.senderVerdict(destination.country, input.sender, input.senderKind);
    if (sender === 'filtered') {
      return {
        stat: 'REJECTD',
        err: NETWORK_ERRORS.senderFiltered,
        latencyMs: ruleLatency(),
        receiptLost,
        rule: 'sender',
      };
    }
    const senderOverwritten = sender === 'overwritten';
    if (random.next() < model.deliveryRate) {
      return {
        stat: 'DELIVRD',
        err: NETWORK_ERRORS.none,
        latencyMs: latency(),
        receiptLost,
        senderOverwritten,
      };
    }
    if (random.next() < model.fakeReceiptRate) {
      return {
        stat: 'UNDELIV',
        err: NETWORK_ERRORS.absentSubscriber,
        latencyMs: latency(),
        receiptLost,
        senderOverwritten,
        claimed: { stat: 'DELIVRD', err: NETWORK_ERRORS.none },
      };
    }
    const stat = random.pick<FinalStat>([
      ['UNDELIV', model.failures.UNDELIV],
      ['EXPIRED', model.failures.EXPIRED],
      ['REJECTD', model.failures.REJECTD],
    ]);
    switch (stat) {
      case 'UNDELIV':
        return {
          stat,
          err: random.pick(UNDELIV_CAUSES),
          latencyMs: latency(),
          receiptLost,
          senderOverwritten,
        };
      case 'EXPIRED':
        // Expiry comes after the SMSC gave up retrying an absent handset: much later than a delivery.
        return {
          stat,
          err: NETWORK_ERRORS.absentSubscriber,
          latencyMs: latency() * 4,
          receiptLost,
          senderOverwritten,
        };
      default:
        // The route's network refused it (not the subscriber's barring, which would hold on every route).
        return {
          stat: 'REJECTD',
          err: NETWORK_ERRORS.systemFailure,
          latencyMs: latency(),
          receiptLost,
          senderOverwritten,
        };
    }
  }

  addEvent(event: TimelineEvent): void {
    this.added.push(event);
  }

  private activeEvents(channelId: string, simTime: number) {
    return [...this.scenario.timeline, ...this.added].filter(
      (e) => e.channel === channelId && simTime >= e.from && simTime < e.until,
    );
  }
}
