import { randomUUID } from 'node:crypto';
import { sms, type events } from '@tern/contracts';
import {
  STATUS_HEADERS,
  topics,
  type BatchConsumer,
  type ConsumedRecord,
  type KafkaClient,
} from '@tern/kafka';
import type { RouteBook } from './domain/route-book';

/** Receipt outcomes that say a channel delivered, or failed to. Other statuses are not a channel's doing. */
const RECEIPT_OUTCOMES: Partial<Record<sms.MessageStatus, boolean>> = {
  [sms.MessageStatus.MESSAGE_STATUS_DELIVERED]: true,
  [sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED]: false,
  [sms.MessageStatus.MESSAGE_STATUS_EXPIRED]: false,
};

/**
 * Keeps this instance's route book current: the routing weights, and the outcomes that feed the breakers
 * (failed submissions; receipts of attempts on a channel). Every instance needs all of them, so each
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
    })
    .on(
      topics.submitted,
      inMemory(({ value }) => submitted(book, value)),
    )
    .on(
      topics.status,
      inMemory(({ value }) => receipt(book, value)),
      // Three of a message's four events are not receipt outcomes: passed over undecoded.
      { only: (header) => isReceiptOutcome(header(STATUS_HEADERS.status)) },
    );
  return { weights, outcomes };
}

const RECEIPT_OUTCOME_NAMES = new Set(
  Object.keys(RECEIPT_OUTCOMES).map((status) => sms.messageStatusToJSON(Number(status))),
);

/** From a record's status header; a record without one is decoded and judged by its value. */
function isReceiptOutcome(status: string | undefined): boolean {
  return status === undefined || RECEIPT_OUTCOME_NAMES.has(status);
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

function submitted(book: RouteBook, result: events.SubmitResult): void {
  // An accepted submission says little (the receipt tells); a refused one is a channel failure.
  if (!result.accepted && result.channelId)
    book.recordOutcome(result.channelId, result.mccMnc, false, Date.now());
}

function receipt(book: RouteBook, event: sms.StatusEvent): void {
  const ok = RECEIPT_OUTCOMES[event.status];
  if (ok === undefined || !event.channelId || event.attempt < 1) return;
  // The carrier's breaker learns it too: a channel failing one carrier is cut off from that carrier only.
  book.recordOutcome(event.channelId, event.mccMnc, ok, Date.now());
}
