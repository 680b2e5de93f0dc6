import { randomUUID } from 'node:crypto';
import { sms, type events } from '@tern/contracts';
import { topics, type BatchConsumer, type ConsumedRecord, type KafkaClient } from '@tern/kafka';
import type { RouteBook } from './domain/route-book';

/** Attempt endings that say a channel delivered, or failed to (FAILED: the SMSC refused the submission). */
const CHANNEL_OUTCOMES: Partial<Record<sms.MessageStatus, boolean>> = {
  [sms.MessageStatus.MESSAGE_STATUS_DELIVERED]: true,
  [sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED]: false,
  [sms.MessageStatus.MESSAGE_STATUS_EXPIRED]: false,
  [sms.MessageStatus.MESSAGE_STATUS_FAILED]: false,
};

/** How long the breakers' outcomes gather between fetches. */
const OUTCOMES_FETCH_GATHER_MS = 100;

/**
 * Keeps this instance's route book current: the routing weights, and the outcomes that feed the breakers
 * (each attempt's ending as dlr records it: a refused submission, a receipt, a receipt that never came).
 * Every instance needs all of them, so each
 * process reads in consumer groups of its own. Weights are read from `weightsMaxAgeMs` ago, not from the
 * topic's start: older ones would be stale in the book anyway, and analytics republishes every route's
 * weight every few seconds, so a restarted router is current within a second or so, however much history
 * the topic holds. `weights.caughtUp()` says when it is.
 */
export function followRoutes(
  kafka: KafkaClient,
  book: RouteBook,
  deployment: string,
  sessionTimeoutMs: number,
  weightsMaxAgeMs: number,
): { weights: BatchConsumer; outcomes: BatchConsumer } {
  const instance = randomUUID().slice(0, 8);
  const weights = kafka
    .consumer({
      groupId: `tern-router-${deployment}-weights-${instance}`,
      startAt: () => Date.now() - weightsMaxAgeMs,
      sessionTimeoutMs,
    })
    .on(
      topics.routingWeights,
      inMemory(({ value }) => book.applyWeight(value)),
    );
  const outcomes = kafka
    .consumer({
      groupId: `tern-router-${deployment}-outcomes-${instance}`,
      // Only what happens from now on says whether a channel is failing now.
      fromBeginning: false,
      sessionTimeoutMs,
      partitionsInParallel: 6,
      concurrency: 100,
      // A breaker judges the last 30 s of outcomes (by default): gathering them for a tenth of a second
      // changes when it opens by no more than that, and under load spares a fetch per handful of attempts.
      gatherMs: OUTCOMES_FETCH_GATHER_MS,
    })
    // One record per attempt: what `sms.submitted` and `sms.status` say of a channel, at a fifth of the records.
    .on(
      topics.attempts,
      inMemory(({ value }) => attemptEnded(book, value)),
    );
  return { weights, outcomes };
}

/** A handler that only updates memory (the consumer wants a promise). */
function inMemory<T>(
  apply: (record: ConsumedRecord<T>) => void,
): (record: ConsumedRecord<T>) => Promise<void> {
  return (record) => {
    apply(record);
    return Promise.resolve();
  };
}

function attemptEnded(book: RouteBook, attempt: events.AttemptRecord): void {
  const ok = CHANNEL_OUTCOMES[attempt.status];
  if (ok === undefined || !attempt.channelId) return;
  // The carrier's breaker learns it too: a channel failing one carrier is cut off from that carrier only.
  // Counted by when the attempt was sent (a refused one: when it was tried).
  const now = Date.now();
  book.recordOutcome(attempt.channelId, attempt.mccMnc, ok, attempt.submittedAt?.getTime() ?? now, now);
}
