import { classOf, events, sms } from '@tern/contracts';
import { PoisonMessageError, TransientError, topics, type TypedProducer } from '@tern/kafka';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Counter, Histogram } from 'prom-client';
import { attemptKeepMs, OUTCOME_UNKNOWN } from '@tern/sms-domain';
import type { AttemptStore, Claim } from './attempt-store';
import type { ChannelBinds } from './channel-binds';
import { buildSubmits, MessageExpiredError } from './domain/submit-builder';
import { classifySubmitStatus } from './domain/submit-status';

const acceptToSubmitted = new Histogram({
  name: 'tern_smpp_accept_to_submitted_seconds',
  help: 'First attempts: ingest taking the message (or its send time) to the carrier accepting it, per class',
  labelNames: ['class'],
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
  registers: [metricsRegistry],
});

const unserved = new Counter({
  name: 'tern_smpp_unserved_dispatches_total',
  help: 'Dispatches for a channel this connector does not serve, failed over (CHANNEL_NOT_SERVED), per channel',
  labelNames: ['channel'],
  registers: [metricsRegistry],
});

/** How often a copy of an attempt in flight elsewhere looks for its outcome. */
const IN_FLIGHT_POLL_MS = 200;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Failure {
  errorCode: string;
  commandStatus: number;
  retryable: boolean;
}

/**
 * One dispatch, one attempt: claims it, submits every part on the chosen channel, records the outcome, and
 * publishes `sms.submitted` (and `sms.retry` when another channel should try: not for an attempt in doubt,
 * which dlr retries only if no receipt of it comes). Never submits an attempt that an earlier run may
 * already have submitted.
 */
export class Dispatcher {
  private reference = Math.floor(Math.random() * 0xffff);
  private stopping = false;

  constructor(
    private readonly channels: ReadonlyMap<string, ChannelBinds>,
    private readonly store: AttemptStore,
    private readonly producer: TypedProducer,
    private readonly log: Logger,
    private readonly maxWaitForBindMs: number,
    private readonly downFailoverMs: number,
  ) {}

  /** Stops waiting for other runs' outcomes: those records are left for the next consumer. */
  close(): void {
    this.stopping = true;
  }

  async handle(dispatch: events.DispatchRequest): Promise<void> {
    const message = dispatch.message;
    if (!message?.messageId)
      throw new PoisonMessageError('MISSING_MESSAGE', 'dispatch without a message', 'message');
    const binds = this.channels.get(dispatch.channelId);
    const ids = { messageId: message.messageId, attempt: dispatch.attempt, channelId: dispatch.channelId };
    for (;;) {
      const claim = await this.earlierRun(message.messageId, dispatch.attempt);
      if (claim.state === 'done') {
        // Submitted before a crash or rebalance: publish the recorded outcome again, submit nothing. An
        // outcome stored without its message (the redelivered dispatch carries it) gets it back, so a later
        // version may store outcomes without it (operations.md, Upgrading).
        this.log.info(ids, 'attempt already submitted; republishing its outcome');
        return this.publish({ ...claim.result, message: claim.result.message ?? message }, message);
      }
      if (claim.state === 'in-doubt') {
        this.log.warn(ids, 'attempt interrupted between submit_sm and its answer; not submitting it again');
        return this.record(dispatch, message, [], 0, {
          errorCode: OUTCOME_UNKNOWN,
          commandStatus: 0,
          retryable: true,
        });
      }

      if (!binds) {
        // The router follows its routing table live and a connector reads its channels as it starts, so
        // while a channel is added or removed the two may disagree: the attempt fails over to another
        // channel rather than leave its message routed, and never final, in a DLQ.
        this.log.warn(ids, 'dispatch for a channel this connector does not serve; failing the attempt over');
        unserved.inc({ channel: dispatch.channelId });
        return this.record(dispatch, message, [], 0, {
          errorCode: 'CHANNEL_NOT_SERVED',
          commandStatus: 0,
          retryable: true,
        });
      }
      let parts;
      try {
        this.reference = (this.reference + 1) & 0xffff;
        parts = buildSubmits(message, binds.config, this.reference);
      } catch (error) {
        if (!(error instanceof MessageExpiredError)) throw error;
        return this.record(dispatch, message, [], 0, {
          errorCode: 'EXPIRED',
          commandStatus: 0,
          retryable: false,
        });
      }
      if (await this.submitParts(dispatch, message, binds, parts)) return;
      // Another run claimed it while this one waited for a bind (a rebalance overlap: the partition's old
      // owner still at it). This record is committed once the outcome is published, so it publishes that
      // run's outcome too: the old owner may stop or lose its partition before it publishes.
      this.log.info(ids, 'attempt claimed by another run; publishing its outcome once stored');
    }
  }

  /**
   * What an earlier run left for the attempt, once it is no longer in flight: a copy of a dispatch that a
   * live run is submitting right now (the router published it twice, or a rebalance handed it over
   * mid-flight) waits for that run's outcome rather than call it in doubt.
   */
  private async earlierRun(messageId: string, attempt: number): Promise<Claim> {
    let claim = await this.store.peek(messageId, attempt);
    while (claim.state === 'in-flight') {
      if (this.stopping) throw new TransientError('connector stopping');
      await sleep(IN_FLIGHT_POLL_MS);
      claim = await this.store.peek(messageId, attempt);
    }
    return claim;
  }

  /**
   * Submits every part on the channel and records the attempt's outcome; false (nothing sent) when another
   * run claimed the attempt first.
   */
  private async submitParts(
    dispatch: events.DispatchRequest,
    message: events.SmsMessage,
    binds: ChannelBinds,
    parts: ReturnType<typeof buildSubmits>,
  ): Promise<boolean> {
    const ids = { messageId: message.messageId, attempt: dispatch.attempt, channelId: dispatch.channelId };
    const started = Date.now();
    const waitMs = Math.max(
      0,
      Math.min(this.maxWaitForBindMs, (message.expiresAt?.getTime() ?? Infinity) - started),
    );
    const smscIds: string[] = [];
    const urgent = message.type !== sms.MessageType.MESSAGE_TYPE_MARKETING;
    // The claim is taken with a bind in hand, right before the first part goes out: an attempt that was
    // still waiting for a bind when the connector died is not in doubt, it was never sent.
    let claimed = false;
    const claimFirst = async () =>
      (claimed = await this.store.claim(
        message.messageId,
        dispatch.attempt,
        attemptKeepMs(message.expiresAt, Date.now()),
      ));
    try {
      for (const [i, part] of parts.entries()) {
        const outcome = await binds.submit(
          part,
          { busyMs: waitMs, downMs: Math.min(waitMs, this.downFailoverMs) },
          urgent,
          i === 0 ? claimFirst : undefined,
        );
        if (outcome.kind === 'not-sent') return false;
        if (outcome.kind === 'answered') {
          const verdict = classifySubmitStatus(outcome.status);
          if (verdict.class === 'accepted') {
            smscIds.push(outcome.messageId);
            continue;
          }
          await this.record(dispatch, message, smscIds, started, {
            errorCode: verdict.errorCode,
            commandStatus: outcome.status,
            retryable: true,
          });
          return true;
        }
        const errorCode = outcome.kind === 'unknown' ? OUTCOME_UNKNOWN : 'NO_BIND';
        this.log.warn({ ...ids, reason: outcome.reason }, 'submission failed');
        await this.record(dispatch, message, smscIds, started, {
          errorCode,
          commandStatus: 0,
          retryable: true,
        });
        return true;
      }
      await this.record(dispatch, message, smscIds, started);
      return true;
    } finally {
      // A run that ended without storing its outcome (a defect, a stop) leaves its claim in doubt, not in
      // flight: a copy of the dispatch in this process must not wait for it. Only the run that claimed it
      // lets go: a copy that lost the claim to it must not.
      if (claimed) this.store.abandon(message.messageId, dispatch.attempt);
    }
  }

  private async record(
    dispatch: events.DispatchRequest,
    message: events.SmsMessage,
    smscIds: string[],
    started: number,
    failure?: Failure,
  ): Promise<void> {
    const submittedAt = new Date();
    // The platform's whole way to the carrier, from `acceptedAt` (stamped as ingest takes the request, so the
    // API call's own time is in it). Retries add a failed attempt's wait: not counted.
    if (!failure && dispatch.attempt === 1 && message.acceptedAt) {
      const from = Math.max(message.acceptedAt.getTime(), message.notBefore?.getTime() ?? 0);
      acceptToSubmitted.observe(
        { class: classOf(message.type) },
        Math.max(0, submittedAt.getTime() - from) / 1000,
      );
    }
    const result: events.SubmitResult = {
      messageId: message.messageId,
      attempt: dispatch.attempt,
      channelId: dispatch.channelId,
      smscMessageIds: smscIds,
      commandStatus: failure?.commandStatus ?? 0,
      accepted: !failure,
      retryable: failure?.retryable ?? false,
      submittedAt,
      tenantId: message.tenantId,
      country: message.country,
      mccMnc: message.mccMnc,
      segments: message.segments,
      type: message.type,
      submitLatencyMs: started ? Date.now() - started : 0,
      errorCode: failure?.errorCode ?? '',
      message,
      tier: dispatch.tier,
      pricePerSegment: dispatch.pricePerSegment,
      receiptWindowMs: dispatch.receiptWindowMs,
      decision: dispatch.decision,
    };
    await this.storeOutcome(result);
    await this.publish(result, message);
  }

  /**
   * The outcome lives only here until it is stored: with Redis away it is kept and stored once Redis is
   * back (giving up would leave an attempt the SMSC answered in doubt). Only a stop gives up on it.
   */
  private async storeOutcome(result: events.SubmitResult): Promise<void> {
    for (let delay = 100; ; delay = Math.min(delay * 2, 5000)) {
      try {
        return await this.store.finish(result, attemptKeepMs(result.message?.expiresAt, Date.now()));
      } catch (error) {
        if (!(error instanceof TransientError)) throw error;
        if (this.stopping) {
          this.store.abandon(result.messageId, result.attempt);
          throw error;
        }
        this.log.warn(
          { messageId: result.messageId, attempt: result.attempt, err: error },
          'storing an outcome failed; retrying',
        );
        await sleep(delay);
      }
    }
  }

  private async publish(result: events.SubmitResult, message: events.SmsMessage): Promise<void> {
    // Batched with other outcomes (a few ms); awaited, so the offset is committed only once it is written.
    await this.producer.enqueue(topics.submitted, result);
    // An attempt in doubt is retried by dlr, once no receipt of it came: it most likely reached the SMSC.
    if (result.accepted || !result.retryable || result.errorCode === OUTCOME_UNKNOWN) return;
    await this.producer.enqueue(topics.retry, {
      message,
      failedAttempt: result.attempt,
      triedChannelIds: [result.channelId],
      reason: sms.StatusReason.fromPartial({
        code: result.errorCode,
        description: `submission on ${result.channelId} failed`,
        retryable: true,
      }),
      requestedAt: new Date(),
    });
  }
}
