import { events } from '@tern/contracts';
import { execOrThrow, LeasedSchedule } from '@tern/redis';
import type { Redis } from 'ioredis';
import { smscIdReadings } from './domain/smsc-id';

export interface PartRef {
  messageId: string;
  attempt: number;
  part: number;
}

const AWAITING = 'tern:dlr:awaiting-receipt';
const UNMATCHED = 'tern:dlr:unmatched-receipts';

/** How long an attempt, its id readings and an unmatched receipt are kept: receipts can come days later. */
const KEEP_SECONDS = 3 * 24 * 3600;

/**
 * Attempts and their parts in Redis, shared by every dlr instance: the submission (with the message, for
 * statuses and retries), each part's SMSC id under every reading, each part's outcome (the first receipt
 * wins, so a duplicate changes nothing), whether the attempt's outcome was reported, and receipts that
 * arrived before their submission.
 */
export class AttemptLedger {
  /** Attempts waiting for their receipt, due when their window ends. */
  private readonly awaiting;
  /** Receipts waiting for their submission, due to be reported when they have waited long enough. */
  private readonly unmatched;

  constructor(private readonly redis: Redis) {
    this.awaiting = new LeasedSchedule(redis, AWAITING);
    this.unmatched = new LeasedSchedule(redis, UNMATCHED);
  }

  /** Records an accepted submission, due for a receipt by `receiptDueAt`; returns receipts waiting for it. */
  async submitted(
    result: events.SubmitResult,
    receiptDueAt: number,
  ): Promise<{ part: number; receipt: events.DeliveryReceipt }[]> {
    const key = attemptKey(result.messageId, result.attempt);
    const pipeline = this.redis.pipeline();
    // What awaiting.schedule does, in the same round trip.
    pipeline.zadd(AWAITING, receiptDueAt, `${result.messageId}|${result.attempt}`);
    pipeline.hset(
      key,
      'submission',
      Buffer.from(events.SubmitResult.encode(result).finish()).toString('base64'),
    );
    pipeline.expire(key, KEEP_SECONDS);
    result.smscMessageIds.forEach((id, part) => {
      for (const reading of smscIdReadings(id)) {
        pipeline.set(
          idKey(result.channelId, reading),
          `${result.messageId}|${result.attempt}|${part}`,
          'EX',
          KEEP_SECONDS,
        );
      }
    });
    await execOrThrow(pipeline);
    const waiting: { part: number; receipt: events.DeliveryReceipt }[] = [];
    for (const [part, id] of result.smscMessageIds.entries()) {
      for (const reading of smscIdReadings(id)) {
        const raw = await this.redis.getdel(pendingKey(result.channelId, reading));
        if (!raw) continue;
        const receipt = events.DeliveryReceipt.decode(Buffer.from(raw, 'base64'));
        waiting.push({ part, receipt });
        // The receipt was kept under its other readings too: matched now, none may join another submission.
        await this.dropUnmatched(receipt);
      }
    }
    return waiting;
  }

  /** The part a receipt belongs to, or undefined if its submission is not known (yet). */
  async partOf(receipt: events.DeliveryReceipt): Promise<PartRef | undefined> {
    for (const reading of smscIdReadings(receipt.smscMessageId)) {
      const ref = await this.redis.get(idKey(receipt.channelId, reading));
      if (ref) {
        const [messageId = '', attempt = '0', part = '0'] = ref.split('|');
        return { messageId, attempt: Number(attempt), part: Number(part) };
      }
    }
    return undefined;
  }

  /** Keeps a receipt whose submission has not been seen, until it comes or `reportAt` passes. */
  async keepUnmatched(receipt: events.DeliveryReceipt, reportAt: number): Promise<void> {
    // Under every reading: the submission will name it in its own base, whichever that is.
    const value = Buffer.from(events.DeliveryReceipt.encode(receipt).finish()).toString('base64');
    const pipeline = this.redis.pipeline();
    for (const reading of smscIdReadings(receipt.smscMessageId)) {
      pipeline.set(pendingKey(receipt.channelId, reading), value, 'EX', KEEP_SECONDS, 'NX');
    }
    pipeline.zadd(UNMATCHED, reportAt, unmatchedMember(receipt)); // what unmatched.schedule does
    await execOrThrow(pipeline);
  }

  /**
   * Receipts still without a submission when their time to be reported came, each leased to the caller:
   * it reports the receipt and calls done(), which forgets it.
   */
  async unmatchedDue(
    now: number,
    limit: number,
  ): Promise<{ receipt: events.DeliveryReceipt; done: () => Promise<void> }[]> {
    const members = await this.unmatched.lease(now, limit, 60_000);
    const found: { receipt: events.DeliveryReceipt; done: () => Promise<void> }[] = [];
    for (const member of members) {
      const cut = member.indexOf('|'); // channel ids have no '|'; an SMSC id might
      const channelId = member.slice(0, cut);
      const smscMessageId = member.slice(cut + 1);
      const [reading = ''] = smscIdReadings(smscMessageId);
      const raw = await this.redis.get(pendingKey(channelId, reading));
      if (!raw) {
        await this.unmatched.remove(member); // matched meanwhile
        continue;
      }
      const receipt = events.DeliveryReceipt.decode(Buffer.from(raw, 'base64'));
      found.push({ receipt, done: () => this.dropUnmatched(receipt) });
    }
    return found;
  }

  private async dropUnmatched(receipt: events.DeliveryReceipt): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const reading of smscIdReadings(receipt.smscMessageId)) {
      pipeline.del(pendingKey(receipt.channelId, reading));
    }
    pipeline.zrem(UNMATCHED, unmatchedMember(receipt));
    await execOrThrow(pipeline);
  }

  /**
   * Records a part's final outcome unless one was recorded; returns the submission, every part's outcome,
   * and whether the attempt was already reported as having no receipt.
   */
  async partDone(
    ref: PartRef,
    outcome: string,
  ): Promise<{ submission: events.SubmitResult; parts: Map<number, string>; missed: boolean } | undefined> {
    const key = attemptKey(ref.messageId, ref.attempt);
    await this.redis.hsetnx(key, `part:${ref.part}`, outcome);
    const all = await this.redis.hgetall(key);
    if (!all['submission']) return undefined;
    const parts = new Map<number, string>();
    for (const [field, value] of Object.entries(all)) {
      if (field.startsWith('part:')) parts.set(Number(field.slice(5)), value);
    }
    return {
      submission: events.SubmitResult.decode(Buffer.from(all['submission'], 'base64')),
      parts,
      missed: all['missed'] === '1',
    };
  }

  /** The right to report the attempt's outcome: true once, for the first caller. */
  async claimReport(messageId: string, attempt: number): Promise<boolean> {
    const claimed = (await this.redis.hsetnx(attemptKey(messageId, attempt), 'reported', '1')) === 1;
    if (claimed) await this.awaiting.remove(`${messageId}|${attempt}`);
    return claimed;
  }

  /**
   * Attempts whose receipt is overdue and not reported, each leased to the caller for a minute: it reports
   * the missing receipt (marked `missed`, which a late receipt may still overrule) and calls done().
   */
  async overdue(now: number, limit: number): Promise<OverdueAttempt[]> {
    const members = await this.awaiting.lease(now, limit, 60_000);
    const found: OverdueAttempt[] = [];
    for (const member of members) {
      const [messageId = '', attempt = '0'] = member.split('|');
      const key = attemptKey(messageId, Number(attempt));
      const [submission, reported] = await this.redis.hmget(key, 'submission', 'reported');
      const done = async () => {
        // Marked, so a late receipt reports the attempt again as a later version of it.
        await execOrThrow(this.redis.pipeline().hset(key, 'missed', '1').zrem(AWAITING, member));
      };
      if (!submission || reported) await this.awaiting.remove(member);
      else {
        found.push({
          submission: events.SubmitResult.decode(Buffer.from(submission, 'base64')),
          done,
          postpone: (at) => this.awaiting.schedule(member, at),
        });
      }
    }
    return found;
  }

  async releaseReport(messageId: string, attempt: number): Promise<void> {
    await this.redis.hdel(attemptKey(messageId, attempt), 'reported');
  }
}

export interface OverdueAttempt {
  submission: events.SubmitResult;
  /** The missing receipt is reported: the attempt leaves the schedule. */
  done: () => Promise<void>;
  /** Not reported now: looked at again at `at`. */
  postpone: (at: number) => Promise<void>;
}

const attemptKey = (messageId: string, attempt: number) => `tern:dlr:attempt:${messageId}:${attempt}`;
const idKey = (channelId: string, reading: string) => `tern:dlr:id:${channelId}:${reading}`;
const pendingKey = (channelId: string, reading: string) => `tern:dlr:unmatched:${channelId}:${reading}`;
const unmatchedMember = (receipt: events.DeliveryReceipt) => `${receipt.channelId}|${receipt.smscMessageId}`;
