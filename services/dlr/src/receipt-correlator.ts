import { encodeMessage, events, sms, statusEvent } from '@tern/contracts';
import {
  CONTENT_TYPE_HEADER,
  DLQ_HEADERS,
  PROTOBUF_CONTENT_TYPE,
  topics,
  TransientError,
  type TypedProducer,
} from '@tern/kafka';
import { RECEIPT_FORWARD_LAG_MS, type ReceiptPresence } from '@tern/redis';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Counter } from 'prom-client';
import { UNMATCHED_LEASE_MS, type AttemptLedger, type AttemptRef, type PartRef } from './attempt-ledger';
import { attemptRecord, type AttemptEnding } from './domain/attempt-record';
import { handsetOf } from './domain/handset';
import { OUTCOMES, receiptOutcome, resolveParts, type ReceiptOutcome } from './domain/outcomes';
import { OUTCOME_UNKNOWN } from '@tern/sms-domain';

/** How soon an attempt held for its receipt (see reportMissing) is looked at again. */
const RECEIVER_RECHECK_MS = 2_000;

/** Whether every receipt written to Kafka before a time has been read and handled (by any dlr instance). */
export interface ReceiptIntake {
  readPast(at: number): Promise<boolean>;
}

/**
 * A receipt an attempt in doubt can take: a delivery (a failure changes nothing, the message was retried
 * already) naming its handset.
 */
const adoptable = (receipt: events.DeliveryReceipt) =>
  receipt.state === sms.ReceiptState.RECEIPT_STATE_DELIVRD && handsetOf(receipt.handset) !== '';

const receipts = new Counter({
  name: 'tern_dlr_receipts_total',
  help: 'Receipts by what became of them: applied, duplicate, intermediate, unmatched (kept for a later submission), orphaned (no submission came: dead-lettered), missing (none in the window), held (overdue while its receipt could still be on its way: waited for), adopted (given to the attempt in doubt to its handset)',
  labelNames: ['outcome'],
  registers: [metricsRegistry],
});

const endings = new Counter({
  name: 'tern_dlr_attempt_endings_total',
  help: 'Attempts ended, per destination country and status (delivered, undelivered, expired, failed); an attempt reported missing and then delivered late counts once each way',
  labelNames: ['country', 'status'],
  registers: [metricsRegistry],
});

/** An attempt whose parts' receipts resolved it, with the receipt that did. */
interface Ending {
  submission: events.SubmitResult;
  message: events.SmsMessage;
  resolved: ReceiptOutcome;
  receipt: events.DeliveryReceipt;
}

export interface CorrelatorSettings {
  /**
   * How long after submission a receipt is expected before the attempt counts as failed (retryable), for
   * attempts whose channel named no window of its own.
   */
  receiptWindowMs: number;
  /** The same for OTPs: a login code that has not arrived in a minute or two is better sent again. */
  otpReceiptWindowMs: number;
  /** Key of the recipient hash in attempt records. */
  analyticsHashKey: string;
  /**
   * How long a delivery receipt waits for its own submission before it may be given to an attempt in doubt
   * to its handset (a submission normally follows its receipt within a second or two).
   */
  inDoubtGraceMs: number;
  /** How long a receipt waits for its submission before it is dead-lettered as UNMATCHED_RECEIPT. */
  unmatchedReceiptMs: number;
}

/**
 * Joins submissions and receipts, whichever comes first, and reports each attempt's status: SUBMITTED when
 * the SMSC took it, then DELIVERED / UNDELIVERED / EXPIRED once its parts are resolved, with a retry request
 * for a retryable failure (the router decides whether validity and attempts allow one). Submission failures
 * are reported FAILED; their retries come from the connector, but for attempts in doubt (`awaitInDoubt`).
 * Every ending also goes to `sms.attempts` as the attempt's analytics record.
 */
export class ReceiptCorrelator {
  constructor(
    private readonly ledger: AttemptLedger,
    private readonly producer: TypedProducer,
    private readonly log: Logger,
    private readonly settings: CorrelatorSettings,
    private readonly presence: Pick<ReceiptPresence, 'receivingSince'>,
    private readonly intake: ReceiptIntake,
  ) {}

  /**
   * A fetch's submissions at a time, in their order (a message's attempts follow each other): the accepted
   * ones recorded in the ledger in one round trip and reported SUBMITTED, each taking the receipts that came
   * before it; the failed ones reported FAILED.
   */
  async submissions(batch: readonly events.SubmitResult[]): Promise<void> {
    // From a connector older than the message field: nothing to report on.
    const known = batch.filter((result) => result.message !== undefined);
    // When the connector had the SMSC's answer (now, from a connector older than the field).
    const now = new Date();
    const submittedAt = (result: events.SubmitResult) => result.submittedAt ?? now;
    const accepted = known.filter((result) => result.accepted);
    const waiting = await this.ledger.submitted(
      accepted.map((result) => ({
        result,
        receiptDueAt: submittedAt(result).getTime() + this.receiptWindow(result, result.message!),
      })),
    );
    // Enqueued in the records' order, so a message's statuses are written in it.
    await Promise.all(
      known.map((result) =>
        result.accepted
          ? this.producer.enqueue(topics.status, {
              ...statusEvent(
                result.message!,
                sms.MessageStatus.MESSAGE_STATUS_SUBMITTED,
                submittedAt(result),
                {
                  attempt: result.attempt,
                  channelId: result.channelId,
                },
              ),
              smscMessageIds: result.smscMessageIds,
            })
          : this.submissionFailed(result, result.message!, submittedAt(result)),
      ),
    );
    await Promise.all(accepted.map((result, i) => this.applyKept(result, waiting[i]!)));
  }

  /** A submission the SMSC refused, or whose answer never came: FAILED, and awaited when in doubt. */
  private async submissionFailed(
    result: events.SubmitResult,
    message: events.SmsMessage,
    at: Date,
  ): Promise<void> {
    const reason = submissionFailure(result);
    const status = sms.MessageStatus.MESSAGE_STATUS_FAILED;
    // The attempt shows why it failed (OUTCOME_UNKNOWN: in doubt, it may have reached the handset).
    await Promise.all([
      this.producer.enqueue(topics.status, {
        ...statusEvent(message, status, at, {
          attempt: result.attempt,
          channelId: result.channelId,
          reason,
        }),
        errorCode: result.errorCode,
        submitStatus: result.commandStatus,
      }),
      this.record(result, message, { status, reason, doneAt: at, version: 1 }),
    ]);
    if (result.errorCode === OUTCOME_UNKNOWN) await this.awaitInDoubt(result, message);
  }

  /**
   * An attempt in doubt most likely reached the SMSC (submit_sm was written; the connector died, or its
   * bind went, before the answer): retried at once, most of them would reach their handsets twice. So a
   * single-part one waits for its receipt like any attempt, for `inDoubtGraceMs`: a delivery to its handset
   * on its channel is given to it (DELIVERED, nothing sent again), and only without one is it retried
   * (`reportMissing`). A multipart one cannot be told by a receipt: retried at once.
   */
  private async awaitInDoubt(result: events.SubmitResult, message: events.SmsMessage): Promise<void> {
    if (message.segments > 1) return this.requestRetry(result, message, submissionFailure(result));
    const receiptDueAt = (result.submittedAt?.getTime() ?? Date.now()) + this.receiptWindow(result, message);
    await this.ledger.submitted([{ result, receiptDueAt }]);
    await this.rememberInDoubt(result, message);
  }

  /**
   * A fetch's receipts at a time (any channels, any order): each is joined to its part, or kept for a
   * submission that has not come yet, and the attempts they end are reported, each once.
   */
  async receipts(batch: readonly events.DeliveryReceipt[]): Promise<void> {
    const now = Date.now();
    const refs = await this.ledger.matchOrKeep(
      batch.map((receipt) => ({
        receipt,
        // A delivery that finds no submission is looked at again soon, for an attempt in doubt to its handset.
        reportAt:
          now +
          (adoptable(receipt)
            ? Math.min(this.settings.inDoubtGraceMs, this.settings.unmatchedReceiptMs)
            : this.settings.unmatchedReceiptMs),
      })),
    );
    const matched: { ref: PartRef; receipt: events.DeliveryReceipt }[] = [];
    batch.forEach((receipt, i) => {
      const ref = refs[i];
      if (ref) {
        matched.push({ ref, receipt });
        return;
      }
      receipts.inc({ outcome: 'unmatched' });
      // Common when dlr's submissions run behind its receipts (under load): counted, logged only at debug.
      this.log.debug(
        { channelId: receipt.channelId, smscMessageId: receipt.smscMessageId },
        'receipt before its submission; kept',
      );
    });
    await this.apply(matched);
  }

  private receiptWindow(result: events.SubmitResult, message: events.SmsMessage): number {
    if (result.errorCode === OUTCOME_UNKNOWN) return this.settings.inDoubtGraceMs;
    return (
      result.receiptWindowMs ||
      (message.type === sms.MessageType.MESSAGE_TYPE_OTP
        ? this.settings.otpReceiptWindowMs
        : this.settings.receiptWindowMs)
    );
  }

  /**
   * Attempts whose receipt did not come in their window: reported UNDELIVERED (NO_RECEIPT, retryable) and
   * retried while the message is valid (an attempt in doubt, reported FAILED already, is only retried). The
   * attempt stays open: a late receipt still reports its outcome. A receipt that is on its way is waited
   * for (checked again every few seconds, until the message's validity ends), since a retry would send a
   * second copy of a message that was delivered:
   * - no bind of the channel can receive (a channel down): its SMSC holds the receipts;
   * - a connector has taken receipts it could not write yet (Kafka away): they follow once it can;
   * - receipts written before the attempt was due (or before the channel's trouble ended) are not all read
   *   yet (dlr behind, or away);
   * - for an attempt in doubt, a delivery to its handset is kept, too recent to be given to it yet or being
   *   given out (`nextAdoption`).
   */
  async reportMissing(now = Date.now()): Promise<number> {
    const overdue = await this.ledger.overdue(now, 200);
    // Receipts read up to a time are read up to any earlier one: one "not yet" answers the later times.
    let notReadAt = Number.POSITIVE_INFINITY;
    const readPast = async (at: number) => {
      if (at > now || at >= notReadAt) return false;
      try {
        if (await this.intake.readPast(at)) return true;
      } catch (error) {
        this.log.warn(
          { err: error },
          'cannot tell whether receipts are read (Kafka away?); missing ones wait',
        );
      }
      notReadAt = at;
      return false;
    };
    // One look per channel and sweep: a channel's overdue attempts share its answer.
    const sinceOf = new Map<string, ReturnType<ReceiptPresence['receivingSince']>>();
    const receivingSince = (channelId: string) => {
      if (!sinceOf.has(channelId)) sinceOf.set(channelId, this.presence.receivingSince(channelId, now));
      return sinceOf.get(channelId)!;
    };
    for (const { submission, claim, done, postpone } of overdue) {
      const message = submission.message;
      const inDoubt = submission.errorCode === OUTCOME_UNKNOWN;
      const valid = (message?.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY) > now;
      if (message && valid) {
        const since = await receivingSince(submission.channelId);
        const dueAt = (submission.submittedAt?.getTime() ?? 0) + this.receiptWindow(submission, message);
        const onItsWay =
          since === 'none' ||
          since === 'stuck' ||
          !(await readPast(Math.max(dueAt, since) + RECEIPT_FORWARD_LAG_MS));
        const adoptableAt = inDoubt ? await this.nextAdoption(submission, message, now) : 0;
        if (onItsWay || now < adoptableAt) {
          receipts.inc({ outcome: 'held' });
          await postpone(Math.max(now + RECEIVER_RECHECK_MS, adoptableAt));
          continue;
        }
      }
      // Claimed before reporting: a receipt arriving now reports the attempt itself, and only one of the two
      // asks for a retry.
      if (message && (await claim())) {
        // An attempt in doubt was reported FAILED when it came: only its retry is left to ask for.
        if (inDoubt) await this.requestRetry(submission, message, submissionFailure(submission));
        else await this.reportNoReceipt(submission, message, new Date(now));
        receipts.inc({ outcome: 'missing' });
      }
      await done();
    }
    return overdue.length;
  }

  /** UNDELIVERED (NO_RECEIPT: a late receipt still overrules it), and a retry. */
  private async reportNoReceipt(
    submission: events.SubmitResult,
    message: events.SmsMessage,
    at: Date,
  ): Promise<void> {
    const reason = { code: 'NO_RECEIPT' as const, ...OUTCOMES.NO_RECEIPT };
    const status = sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED;
    await Promise.all([
      this.producer.enqueue(
        topics.status,
        statusEvent(message, status, at, {
          attempt: submission.attempt,
          channelId: submission.channelId,
          reason,
        }),
      ),
      this.record(submission, message, { status, reason, doneAt: at, version: 1 }),
      this.requestRetry(submission, message, reason),
    ]);
  }

  /**
   * Receipts whose submission never came (an SMSC reporting an id it did not give us, a submission lost
   * upstream): dead-lettered on `sms.dlr.dlq` with reason UNMATCHED_RECEIPT, where an operator can see and
   * replay them, never silently dropped.
   */
  async reportUnmatched(now = Date.now()): Promise<number> {
    const due = await this.ledger.unmatchedDue(now, 200);
    const dlr = this.producer.onCluster(topics.dlr);
    for (const { receipt, done, postpone } of due) {
      if (adoptable(receipt)) {
        const inDoubt = await this.ledger.soleInDoubt(receipt.channelId, handsetOf(receipt.handset));
        if (inDoubt) {
          await this.adopt(inDoubt, receipt);
          continue;
        }
        const deadline = (receipt.receivedAt?.getTime() ?? now) + this.settings.unmatchedReceiptMs;
        if (now < deadline) {
          await postpone(deadline);
          continue;
        }
      }
      const waitedS = Math.round(this.settings.unmatchedReceiptMs / 1000);
      await this.producer.sendRaw(dlr.dlq, [
        {
          key: receipt.channelId,
          value: encodeMessage(events.DeliveryReceipt, receipt),
          headers: {
            [CONTENT_TYPE_HEADER]: PROTOBUF_CONTENT_TYPE,
            [DLQ_HEADERS.reason]: 'UNMATCHED_RECEIPT',
            [DLQ_HEADERS.error]: `no submission with SMSC id ${receipt.smscMessageId} on ${receipt.channelId} within ${waitedS} s`,
            [DLQ_HEADERS.sourceTopic]: dlr.name,
            [DLQ_HEADERS.failedAt]: new Date(now).toISOString(),
          },
        },
      ]);
      await done();
      receipts.inc({ outcome: 'orphaned' });
      this.log.warn(
        { channelId: receipt.channelId, smscMessageId: receipt.smscMessageId },
        'receipt never matched a submission; dead-lettered',
      );
    }
    return due.length;
  }

  /**
   * An attempt in doubt (single-part: one receipt tells all) is remembered under its channel and handset; a
   * delivery receipt kept there long enough that no submission of its own will claim it is its receipt.
   */
  private async rememberInDoubt(result: events.SubmitResult, message: events.SmsMessage): Promise<void> {
    const handset = handsetOf(message.to);
    const keepUntil = message.expiresAt?.getTime() ?? Date.now() + this.settings.unmatchedReceiptMs;
    await this.ledger.inDoubt(result, handset, keepUntil);
    const settled = Date.now() - this.settings.inDoubtGraceMs;
    const kept = (await this.ledger.unmatchedForHandset(result.channelId, handset))
      .map(({ receipt }) => receipt)
      .filter((r) => adoptable(r) && (r.receivedAt?.getTime() ?? 0) <= settled);
    // More than one: which is its receipt cannot be told; they are dead-lettered in time, as any unmatched.
    if (kept.length === 1) await this.adopt(result, kept[0]!);
  }

  /**
   * Until when an attempt in doubt waits for a delivery kept for its handset on its channel, that no
   * submission claimed yet, to be given to it (`reportUnmatched`): one still in its grace until it is looked
   * at; one being looked at now (leased) a little longer; 0 when none. (One parked past its grace, with the
   * attempt known, was not given: two attempts in doubt to the handset.)
   */
  private async nextAdoption(inDoubt: events.SubmitResult, message: events.SmsMessage, now: number) {
    const kept = await this.ledger.unmatchedForHandset(inDoubt.channelId, handsetOf(message.to));
    const lookedAt = kept
      .filter(({ receipt, dueAt }) => adoptable(receipt) && dueAt <= now + UNMATCHED_LEASE_MS)
      .map(({ dueAt }) => (dueAt <= now + this.settings.inDoubtGraceMs ? dueAt : now));
    return lookedAt.length === 0 ? 0 : Math.max(...lookedAt) + RECEIVER_RECHECK_MS;
  }

  /** Gives the attempt in doubt its receipt: the message's status follows what reached the handset. */
  private async adopt(inDoubt: events.SubmitResult, receipt: events.DeliveryReceipt): Promise<void> {
    await this.applyKept(inDoubt, await this.ledger.adoptInDoubt(inDoubt, receipt));
    await this.ledger.resolvedInDoubt(inDoubt, handsetOf(receipt.handset));
    receipts.inc({ outcome: 'adopted' });
    this.log.info(
      { messageId: inDoubt.messageId, attempt: inDoubt.attempt, channelId: inDoubt.channelId },
      'receipt no submission claimed given to the attempt in doubt to its handset',
    );
  }

  /** Receipts that were kept for this attempt's submission, applied to it now that it is here. */
  private async applyKept(
    attempt: AttemptRef,
    kept: readonly { part: number; receipt: events.DeliveryReceipt }[],
  ): Promise<void> {
    if (kept.length === 0) return;
    await this.apply(kept.map(({ part, receipt }) => ({ ref: { ...attempt, part }, receipt })));
    // Applied: forgotten now, not before (a crash in between leaves them for the redelivered submission).
    await Promise.all(kept.map(({ receipt }) => this.ledger.matched(receipt)));
  }

  /**
   * Receipts joined to their parts: each part's outcome recorded (the first receipt of a part wins), and each
   * attempt whose parts are resolved reported once, all in a few round trips whatever their number.
   */
  private async apply(matched: readonly { ref: PartRef; receipt: events.DeliveryReceipt }[]): Promise<void> {
    const final = matched.flatMap(({ ref, receipt }) => {
      const outcome = receiptOutcome(receipt.state, receipt.errorCode);
      if (outcome) return [{ ref, receipt, outcome: JSON.stringify(outcome) }];
      receipts.inc({ outcome: 'intermediate' });
      return [];
    });
    if (final.length === 0) return;
    const recorded = await this.ledger.partsDone(final);
    // One report per attempt: a later receipt of an attempt resolved earlier in the call is a duplicate.
    const ended = new Map<string, Ending>();
    final.forEach(({ receipt }, i) => {
      const known = recorded[i];
      if (!known) return; // its submission's record expired: nothing to report on
      const { submission, parts } = known;
      const message = submission.message;
      const inPartOrder = [...parts.entries()].sort(([a], [b]) => a - b);
      const resolved = resolveParts(
        inPartOrder.map(([, stored]) => JSON.parse(stored) as ReceiptOutcome),
        Math.max(1, submission.smscMessageIds.length),
      );
      const attemptId = `${submission.messageId}|${submission.attempt}`;
      if (!resolved || !message || ended.has(attemptId)) {
        receipts.inc({ outcome: resolved ? 'duplicate' : 'applied' });
        return;
      }
      ended.set(attemptId, { submission, message, resolved, receipt });
    });
    if (ended.size === 0) return;
    // Parts of one message can resolve on two instances at once, and a receipt can be handled by two at once
    // (a rebalance overlap: the partition's old owner still at it): one claim, one report. A receipt whose
    // report another is writing is not done until that report is written: the other may stop, or lose its
    // partition, before it writes, and this record would be committed with nothing reported. A report taken
    // but never confirmed written (dlr died before the producer's flush) is taken again once stale; its
    // readers (status order, callbacks by event id, attempt rows by version) take it once.
    const endings = [...ended.values()];
    const claims = await this.ledger.claimReports(endings.map(({ submission }) => submission));
    const taken: (Ending & { afterMissed: boolean })[] = [];
    let writtenElsewhere = false;
    claims.forEach((claim, i) => {
      if (claim.taken) taken.push({ ...endings[i]!, afterMissed: claim.afterMissed });
      else if (claim.writing) writtenElsewhere = true;
      else receipts.inc({ outcome: 'duplicate' });
    });
    const attempts = taken.map(({ submission }) => submission);
    try {
      await Promise.all(taken.map((ending) => this.report(ending)));
    } catch (error) {
      // Not written: the redelivered receipts must be able to take them again at once.
      await this.ledger.releaseReports(attempts);
      throw error;
    }
    if (attempts.length > 0) await this.ledger.reported(attempts);
    receipts.inc({ outcome: 'applied' }, taken.length);
    if (writtenElsewhere)
      throw new TransientError('the receipt outcome of an attempt is being reported by another run');
  }

  private async report({
    submission,
    message,
    resolved,
    receipt,
    afterMissed,
  }: Ending & { afterMissed: boolean }): Promise<void> {
    // When the receipt reached us: the receipt's own done date has minutes only (YYMMDDhhmm), too coarse for
    // latencies of seconds, and no SMSC reports a delivery before it happened.
    const doneAt = receipt.receivedAt ?? receipt.doneDate ?? new Date();
    const event = statusEvent(message, resolved.status, new Date(), {
      attempt: submission.attempt,
      channelId: submission.channelId,
      reason: resolved.reason,
    });
    event.receiptState = receipt.state;
    event.errorCode = receipt.errorCode;
    event.smscMessageIds = submission.smscMessageIds;
    event.deliveryLatencyMs = submission.submittedAt
      ? Math.max(0, doneAt.getTime() - submission.submittedAt.getTime())
      : 0;
    await Promise.all([
      this.producer.enqueue(topics.status, event),
      this.record(submission, message, {
        ...resolved,
        doneAt,
        receiptState: receipt.state,
        errorCode: receipt.errorCode,
        // A late receipt after a missing-receipt report: the later version supersedes that row.
        version: afterMissed ? 2 : 1,
      }),
      // After a missing-receipt report the retry was already asked for.
      resolved.reason.retryable && !afterMissed
        ? this.requestRetry(submission, message, resolved.reason)
        : undefined,
    ]);
  }

  private async record(submission: events.SubmitResult, message: events.SmsMessage, ending: AttemptEnding) {
    await this.producer.enqueue(
      topics.attempts,
      attemptRecord(submission, message, ending, this.settings.analyticsHashKey),
    );
    const status = sms.messageStatusToJSON(ending.status).replace('MESSAGE_STATUS_', '').toLowerCase();
    endings.inc({ country: message.country, status });
  }

  /**
   * Asks the router for another attempt, unless the message's validity is over (nothing can deliver it).
   * An attempt in doubt is asked for in any case: its FAILED status is retryable, and only the router's
   * conclusion (EXPIRED) ends the message.
   */
  private async requestRetry(
    submission: events.SubmitResult,
    message: events.SmsMessage,
    reason: sms.StatusReason,
  ): Promise<void> {
    const expired = (message.expiresAt?.getTime() ?? Infinity) <= Date.now();
    if (expired && reason.code !== OUTCOME_UNKNOWN) return;
    await this.producer.enqueue(topics.retry, {
      message,
      failedAttempt: submission.attempt,
      triedChannelIds: [submission.channelId],
      reason,
      requestedAt: new Date(),
    });
  }
}

/** Why a submission failed, as its FAILED status and the retry of an attempt in doubt say. */
function submissionFailure(result: events.SubmitResult): sms.StatusReason {
  return {
    code: result.errorCode || 'NETWORK_FAILURE',
    description: 'submission failed',
    retryable: result.retryable,
  };
}
