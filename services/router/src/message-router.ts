import { classOf, events, sms, statusEvent } from '@tern/contracts';
import { dispatchTopic, PoisonMessageError, TransientError, topics, type TypedProducer } from '@tern/kafka';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { attemptKeepMs } from '@tern/sms-domain';
import { Counter } from 'prom-client';
import type { AttemptLedger } from './attempt-ledger';
import type { DeferredQueue } from './deferred-queue';
import { retryVerdict } from './domain/retry-policy';
import type { RouteBook } from './domain/route-book';
import { laneOf, priceOf, receiptWindowMs, type Channel, type RoutingTable } from './domain/routing-table';
import { selectChannel, type RoutingStrategy, type SelectionDecision } from './domain/select';
import { reason, ROUTING_REASONS } from './domain/status';
import { limitsFor } from './domain/traffic';
import type { TrafficGate } from './traffic-gate';

export interface RoutingPolicy {
  maxAttempts: number;
  minRemainingMs: number;
  noChannelWaitMs: number;
  strategy: RoutingStrategy;
  latencyReferenceMs: number;
}

export interface MessageRouterDeps {
  table: () => RoutingTable;
  book: RouteBook;
  ledger: AttemptLedger;
  gate: TrafficGate;
  deferred: DeferredQueue;
  producer: TypedProducer;
  log: Logger;
  policy: RoutingPolicy;
}

const decisions = new Counter({
  name: 'tern_router_decisions_total',
  help: 'Routing outcomes per class: dispatched, deferred, no_route, expired, given_up',
  labelNames: ['class', 'outcome'],
  registers: [metricsRegistry],
});

/** A message parked until its earliest send time is looked at again this close to it, not earlier. */
const DEFER_BEYOND_MS = 1000;
/** While every eligible channel's breaker is open, selection is tried again this often. */
const BREAKER_RECHECK_MS = 1000;

/**
 * Routes one attempt of one message: picks the channel (or takes the one an earlier run picked), waits for
 * the country's and channel's rate limits, and publishes the dispatch to the message's lane with a ROUTED
 * status. A message that cannot be routed ends with a status saying why (NO_ROUTE, EXPIRED, MAX_ATTEMPTS).
 */
export class MessageRouter {
  private closed = false;

  constructor(private readonly deps: MessageRouterDeps) {}

  /** Stops waiting messages: each fails transiently, so its record is left for the next consumer. */
  close(): void {
    this.closed = true;
    this.deps.gate.close();
  }

  async approved(event: events.MessageApproved): Promise<void> {
    const message = requireMessage(event.message);
    const notBefore = message.notBefore?.getTime() ?? 0;
    if (notBefore > Date.now() + DEFER_BEYOND_MS) {
      await this.deps.deferred.park(message, notBefore);
      decisions.inc({ class: classOf(message.type), outcome: 'deferred' });
      return;
    }
    await this.route(message, 1, new Set(), 0, event.adjustments);
  }

  async retry(request: events.RetryRequest): Promise<void> {
    const message = requireMessage(request.message);
    const verdict = retryVerdict(request, Date.now(), this.deps.policy);
    if (verdict.retry)
      return this.route(
        message,
        verdict.attempt,
        verdict.tried,
        verdict.failedInDoubt ? request.failedAttempt : 0,
      );
    const last = request.reason?.code ? ` (last failure: ${request.reason.code})` : '';
    if (verdict.code === 'EXPIRED') {
      return this.end(
        message,
        request.failedAttempt,
        'expired',
        ROUTING_REASONS.expired,
        verdict.description,
      );
    }
    this.deps.log.debug({ messageId: message.messageId, code: verdict.code }, 'no further attempt');
    await this.finish(
      message,
      sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED,
      request.failedAttempt,
      reason(
        verdict.code === 'MAX_ATTEMPTS' ? ROUTING_REASONS.maxAttempts : (request.reason?.code ?? ''),
        verdict.description + last,
      ),
      'given_up',
    );
  }

  /**
   * One attempt, from selection to dispatch; `inDoubtAttempt` (if not 0) is an earlier one in doubt.
   * `riskNotes` (risk's adjustments on approval) go into the decision, so the message's trace keeps them.
   */
  async route(
    message: events.SmsMessage,
    attempt: number,
    tried: ReadonlySet<string>,
    inDoubtAttempt = 0,
    riskNotes: readonly string[] = [],
  ): Promise<void> {
    const { ledger, book, log } = this.deps;
    const expiresAt = message.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY;
    // A first attempt has no earlier channels to avoid, and is almost always routed for the first time: it
    // selects without reading the ledger, and its claim finds a channel routed before (a redelivery). Only
    // when no channel can be selected now does it read the ledger, so a redelivery goes on where it went.
    const firstTry = attempt === 1 && inDoubtAttempt === 0 && tried.size === 0;
    const earlier = firstTry ? new Map<number, string>() : await ledger.attempts(message.messageId);
    let table = this.deps.table();
    const channelNamed = (id: string | undefined) => table.channels.find((c) => c.id === id);
    let channel = channelNamed(earlier.get(attempt));
    let decision: SelectionDecision = { candidates: [], reason: `attempt ${attempt} was routed before` };
    let claim: Promise<string> | undefined;
    if (!channel) {
      const exclude = new Set([...tried, ...[...earlier].filter(([n]) => n < attempt).map(([, c]) => c)]);
      const inDoubt = new Set([earlier.get(inDoubtAttempt)].filter((c): c is string => c !== undefined));
      const routedBefore = firstTry
        ? async () => channelNamed((await ledger.attempts(message.messageId)).get(attempt))
        : undefined;
      const selection = await this.select(
        message,
        attempt,
        { tried: exclude, inDoubt },
        expiresAt,
        routedBefore,
      );
      if ('ending' in selection) return selection.ending;
      ({ table, decision, channel } = selection);
      claim = ledger.claim(
        message.messageId,
        attempt,
        channel.id,
        attemptKeepMs(message.expiresAt, Date.now()),
      );
    }
    const trafficClass = classOf(message.type);
    const passFor = (through: Channel) =>
      this.deps.gate.pass(limitsFor(table, message.country, through, trafficClass), trafficClass, expiresAt);
    // The claim and the rate limits are asked at once (one wait, not two). In the rare case the claim finds
    // the attempt routed to another channel, it goes there, through that channel's limits too.
    const [claimed, passed] = await Promise.all([claim, passFor(channel)]);
    let gate = passed;
    if (claimed !== undefined && claimed !== channel.id) {
      decision = { candidates: [], reason: `attempt ${attempt} was routed to ${claimed} by another run` };
      const routed = channelNamed(claimed);
      if (routed) {
        channel = routed;
        if (typeof gate === 'object') gate = await passFor(routed);
      }
    }
    // Stopping: the record stays uncommitted and the next consumer routes it (same attempt, same channel).
    if (gate === 'closed') throw new TransientError('router stopping');
    if (gate === 'expired') {
      const why = `validity ran out waiting for the rate limits of ${message.country} and ${channel.id}`;
      return this.end(message, attempt, 'expired', ROUTING_REASONS.expired, why);
    }
    // When the limits let it through: what they promise (at most rate + burst in any second) holds for these
    // times, however late this process gets to each of a grant's messages.
    const now = new Date(gate.passedAt);
    book.sent(channel.id, message.mccMnc, now.getTime());
    const lane = laneOf(table, message.country);
    await Promise.all([
      this.deps.producer.enqueue(dispatchTopic(lane), {
        message,
        attempt,
        channelId: channel.id,
        lane,
        decision: { ...decision, riskNotes: [...riskNotes] },
        routedAt: now,
        tier: channel.tier,
        pricePerSegment: priceOf(channel, message.country, message.mccMnc) ?? 0,
        receiptWindowMs: receiptWindowMs(
          channel,
          message.type === sms.MessageType.MESSAGE_TYPE_OTP,
          book.latencyP95Ms(channel.id, message.country, message.mccMnc, now.getTime()),
        ),
      }),
      this.deps.producer.enqueue(
        topics.status,
        statusEvent(message, sms.MessageStatus.MESSAGE_STATUS_ROUTED, now, {
          attempt,
          channelId: channel.id,
        }),
      ),
    ]);
    decisions.inc({ class: trafficClass, outcome: 'dispatched' });
    log.debug({ messageId: message.messageId, attempt, channelId: channel.id, lane }, 'routed');
  }

  /**
   * Selects a channel; while the only obstacle is open breakers (they close again within seconds), waits
   * and selects again, up to the no-channel wait and the message's validity. Otherwise the message ends.
   */
  private async select(
    message: events.SmsMessage,
    attempt: number,
    exclude: { tried: ReadonlySet<string>; inDoubt: ReadonlySet<string> },
    expiresAt: number,
    /** Asked once, when no channel can be selected now: a channel the attempt went to before, if any. */
    routedBefore?: () => Promise<Channel | undefined>,
  ): Promise<
    { channel: Channel; decision: SelectionDecision; table: RoutingTable } | { ending: Promise<void> }
  > {
    const { book } = this.deps;
    const giveUpAt = Math.min(expiresAt, Date.now() + this.deps.policy.noChannelWaitMs);
    for (let asked = false; ; asked = true) {
      const table = this.deps.table();
      const selection = selectChannel({
        message,
        attempt,
        table,
        stats: (c, country, mccMnc) => book.stats(c, country, mccMnc, Date.now()),
        blocked: (c, mccMnc) => book.blocked(c, mccMnc, Date.now()),
        queueWaitMs: (c) => book.queueWaitMs(c, classOf(message.type) === 'priority', Date.now()),
        ...exclude,
        strategy: this.deps.policy.strategy,
        latencyReferenceMs: this.deps.policy.latencyReferenceMs,
      });
      const { channel, decision } = selection;
      if (channel) return { channel, decision, table };
      const before = asked ? undefined : await routedBefore?.();
      if (before) {
        return {
          channel: before,
          decision: { candidates: [], reason: `attempt ${attempt} was routed before` },
          table,
        };
      }
      const nextLook = Date.now() + BREAKER_RECHECK_MS;
      if (selection.blockedForNow === 0 || nextLook > giveUpAt) {
        if (selection.blockedForNow > 0 && nextLook > expiresAt) {
          const why = 'validity ran out while every channel was failing';
          return { ending: this.end(message, attempt, 'expired', ROUTING_REASONS.expired, why) };
        }
        const why = decision.candidates.map((c) => `${c.channelId}: ${c.excludedBecause}`).join('; ');
        const description = why ? `${decision.reason}: ${why}` : decision.reason;
        return {
          ending: this.end(message, attempt, 'no_route', ROUTING_REASONS.noRoute, description),
        };
      }
      await sleep(BREAKER_RECHECK_MS);
      if (this.closed) throw new TransientError('router stopping');
    }
  }

  private end(
    message: events.SmsMessage,
    attempt: number,
    outcome: 'expired' | 'no_route',
    code: string,
    description: string,
  ): Promise<void> {
    const status =
      outcome === 'expired'
        ? sms.MessageStatus.MESSAGE_STATUS_EXPIRED
        : sms.MessageStatus.MESSAGE_STATUS_FAILED;
    this.deps.log.debug({ messageId: message.messageId, attempt, code }, 'message not routed');
    return this.finish(message, status, attempt, reason(code, description), outcome);
  }

  private async finish(
    message: events.SmsMessage,
    status: sms.MessageStatus,
    attempt: number,
    why: sms.StatusReason,
    outcome: string,
  ): Promise<void> {
    await this.deps.producer.enqueue(
      topics.status,
      statusEvent(message, status, new Date(), { attempt, reason: why }),
    );
    decisions.inc({ class: classOf(message.type), outcome });
  }
}

function requireMessage(message: events.SmsMessage | undefined): events.SmsMessage {
  if (!message?.messageId)
    throw new PoisonMessageError('MISSING_MESSAGE', 'event without a message', 'message');
  if (!message.country)
    throw new PoisonMessageError('MISSING_COUNTRY', 'message without a country', 'message.country');
  return message;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
