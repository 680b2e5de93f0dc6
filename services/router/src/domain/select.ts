import { createHash } from 'node:crypto';
import { events, sms } from '@tern/contracts';
import { BetaSampler } from './beta-sampler';
import { LATENCY_REFERENCE_MS, tierPrior, type TierPrior } from '@tern/sms-domain';
import { channelsTo, priceOf, type Channel, type RoutingTable } from './routing-table';

/** What the router knows of a route's delivery: a Beta posterior of its probability, and its latency. */
export type RouteStats = TierPrior;

/**
 * How much each message type cares about delivery, speed and price. An OTP's user is waiting: 10 s of
 * latency costs as much as a delivered code is worth, and a failed attempt twice that (the wait for the
 * failure, then the failover, or a code lost): delivery weighs 3 = 1 + 2. A fast route that fails now and
 * then still wins; one that fails most attempts loses to a slower sure one.
 */
export const TYPE_WEIGHTS: Record<sms.MessageType, { delivery: number; latency: number; cost: number }> = {
  [sms.MessageType.MESSAGE_TYPE_UNSPECIFIED]: { delivery: 1, latency: 0.3, cost: 0.3 },
  [sms.MessageType.MESSAGE_TYPE_OTP]: { delivery: 3, latency: 1, cost: 0.05 },
  [sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL]: { delivery: 1, latency: 0.3, cost: 0.3 },
  [sms.MessageType.MESSAGE_TYPE_MARKETING]: { delivery: 1, latency: 0.05, cost: 1 },
};

const SENDER_KINDS: Partial<Record<sms.SenderType, Channel['senderTypes'][number]>> = {
  [sms.SenderType.SENDER_TYPE_ALPHANUMERIC]: 'alphanumeric',
  [sms.SenderType.SENDER_TYPE_SHORTCODE]: 'shortcode',
  [sms.SenderType.SENDER_TYPE_INTERNATIONAL]: 'international',
};

export interface SelectionInput {
  message: Pick<events.SmsMessage, 'messageId' | 'country' | 'mccMnc' | 'senderType' | 'type' | 'segments'>;
  attempt: number;
  table: RoutingTable;
  /** Live statistics of a route (carrier-level first, then country-level); undefined: use the tier prior. */
  stats: (channelId: string, country: string, mccMnc: string) => RouteStats | undefined;
  /** Why a channel may not take traffic now (an open breaker), or undefined. */
  blocked: (channelId: string, mccMnc: string) => string | undefined;
  /**
   * How long this message would wait in the channel's connectors before its SMSC takes it (an SMSC
   * throttling below its rate): added to the route's latency. Unset: none.
   */
  queueWaitMs?: (channelId: string) => number;
  /** Channels that already failed this message. */
  tried: ReadonlySet<string>;
  /**
   * Of the channels tried, those whose attempt at this message is in doubt (OUTCOME_UNKNOWN: the connector
   * died before the SMSC answered, so it may have delivered). One is taken again only when no other channel
   * can carry the message: a possible second delivery, visible as in doubt, rather than a message ended
   * FAILED that may have reached the handset.
   */
  inDoubt?: ReadonlySet<string>;
  /** Seeds the sampling; by default the message id and attempt, so a redelivered request decides the same. */
  seed?: number;
  /**
   * `smart` (default): the selection below. `cheapest`: the baseline Tern is measured against, what a
   * gateway without live statistics does: the cheapest channel that can carry the message, breakers ignored.
   */
  strategy?: RoutingStrategy;
  /**
   * The score's unit of latency (default LATENCY_REFERENCE_MS); the tier priors' latencies scale with it,
   * so a prior weighs as much as before. A world on a faster clock (a test's time scale) sets it to match.
   */
  latencyReferenceMs?: number;
}

export const ROUTING_STRATEGIES = ['smart', 'cheapest'] as const;
export type RoutingStrategy = (typeof ROUTING_STRATEGIES)[number];

/** What selection decides and why; the message's risk notes join it at dispatch. */
export type SelectionDecision = Omit<events.RoutingDecision, 'riskNotes'>;

export interface Selection {
  channel: Channel | undefined;
  decision: SelectionDecision;
  /** Channels that could carry the message but are blocked for now (breakers): waiting may help. */
  blockedForNow: number;
}

/**
 * Chooses a channel for one attempt among those that reach the message's country (none: no route). Those
 * that cannot carry the message (sender type), that failed it already, or whose breaker is open are
 * excluded, each with its reason. Among the rest, each delivery probability is drawn from its Beta
 * posterior (Thompson sampling: a better channel wins most draws, not all, and one with little evidence
 * keeps getting tried), then scored by the message type's balance of delivery, latency and price. Same
 * inputs and seed, same decision.
 */
export function selectChannel(input: SelectionInput): Selection {
  const selection = selectAmong(input);
  const inDoubt = [...(input.inDoubt ?? [])].filter((c) => input.tried.has(c));
  if (selection.channel || selection.blockedForNow > 0 || inDoubt.length === 0) return selection;
  const fallback = selectAmong({
    ...input,
    tried: new Set([...input.tried].filter((c) => !inDoubt.includes(c))),
  });
  if (!fallback.channel) return selection;
  const reason = `no other channel left: again on ${fallback.channel.id}, whose attempt is in doubt`;
  return { ...fallback, decision: { ...fallback.decision, reason } };
}

function selectAmong(input: SelectionInput): Selection {
  const { message, table } = input;
  const senderKind = SENDER_KINDS[message.senderType];
  const weights = TYPE_WEIGHTS[message.type] ?? TYPE_WEIGHTS[sms.MessageType.MESSAGE_TYPE_UNSPECIFIED];
  const sampler = new BetaSampler(input.seed ?? seedOf(message.messageId, input.attempt));
  const latencyReferenceMs = input.latencyReferenceMs ?? LATENCY_REFERENCE_MS;

  const candidates: events.RoutingCandidate[] = [];
  let blockedForNow = 0;
  const eligible: { channel: Channel; candidate: events.RoutingCandidate; cost: number }[] = [];
  // Only the channels that reach the country are candidates: a decision travels with its message through
  // every hop and into its trace, and in a global table most channels reach other countries.
  const routes = channelsTo(table, message.country);
  if (routes.length === 0) {
    return {
      channel: undefined,
      decision: { candidates, reason: `no route to ${message.country}` },
      blockedForNow,
    };
  }
  for (const channel of routes) {
    // A channel that reaches the country has a price there.
    const price = priceOf(channel, message.country, message.mccMnc)!;
    const candidate: events.RoutingCandidate = {
      channelId: channel.id,
      score: 0,
      deliveryProbability: 0,
      expectedLatencyMs: 0,
      pricePerSegment: price,
      excludedBecause: '',
    };
    candidates.push(candidate);
    if (!senderKind || !channel.senderTypes.includes(senderKind)) {
      candidate.excludedBecause = `does not carry ${senderKind ?? 'this'} senders`;
    } else if (input.tried.has(channel.id)) candidate.excludedBecause = 'already failed this message';
    else if (input.strategy !== 'cheapest') {
      candidate.excludedBecause = input.blocked(channel.id, message.mccMnc) ?? '';
      if (candidate.excludedBecause !== '') blockedForNow++;
    }
    if (candidate.excludedBecause !== '') continue;
    const stats =
      input.stats(channel.id, message.country, message.mccMnc) ?? tierPrior(channel.tier, latencyReferenceMs);
    candidate.deliveryProbability = sampler.beta(Math.max(stats.alpha, 1e-3), Math.max(stats.beta, 1e-3));
    candidate.expectedLatencyMs = stats.latencyP50Ms + (input.queueWaitMs?.(channel.id) ?? 0);
    eligible.push({ channel, candidate, cost: price * Math.max(1, message.segments) });
  }

  if (input.strategy === 'cheapest') {
    const cheapest = eligible.reduce<(typeof eligible)[number] | undefined>(
      (best, e) => (!best || e.cost < best.cost ? e : best),
      undefined,
    );
    const reason = cheapest
      ? 'cheapest eligible channel (baseline strategy)'
      : 'no channel can carry this message';
    return { channel: cheapest?.channel, decision: { candidates, reason }, blockedForNow: 0 };
  }
  const maxCost = Math.max(1e-9, ...eligible.map((e) => e.cost));
  let best: (typeof eligible)[number] | undefined;
  for (const e of eligible) {
    const c = e.candidate;
    // Delivery in [0, 1]; latency relative to the reference (TYPE_WEIGHTS: the score counts up to three of
    // it); price relative to the dearest candidate.
    c.score =
      weights.delivery * c.deliveryProbability -
      weights.latency * Math.min(c.expectedLatencyMs / latencyReferenceMs, 3) -
      weights.cost * (e.cost / maxCost);
    if (!best || c.score > best.candidate.score) best = e;
  }
  const reason = !best
    ? 'no channel can carry this message now'
    : eligible.length === 1
      ? 'only channel left after exclusions'
      : `thompson sample among ${eligible.length} candidates`;
  return { channel: best?.channel, decision: { candidates, reason }, blockedForNow };
}

/** A 32-bit seed from the message id and attempt. */
export function seedOf(messageId: string, attempt: number): number {
  // MINSTD seeds are 1 .. 2^31-2.
  return (createHash('sha256').update(`${messageId}#${attempt}`).digest().readUInt32BE(0) % 2147483646) + 1;
}
