import { encodeMessage, events } from '@tern/contracts';
import { batchedRedisScript, execOrThrow, LeasedSchedule, redisScript } from '@tern/redis';
import type { Redis } from 'ioredis';
import { handsetOf } from './domain/handset';
import { smscIdReadings } from './domain/smsc-id';

/** An attempt: a message's submission to one channel. */
export interface AttemptRef {
  messageId: string;
  attempt: number;
}

/** One part of an attempt (a segment of a multipart message, with an SMSC id of its own). */
export interface PartRef extends AttemptRef {
  part: number;
}

const AWAITING = 'tern:dlr:awaiting-receipt';
const UNMATCHED = 'tern:dlr:unmatched-receipts';

/** How long a caller of `unmatchedDue` has its receipts to itself: their schedule is pushed this far. */
export const UNMATCHED_LEASE_MS = 60_000;

/** How long an attempt, its id readings and an unmatched receipt are kept: receipts can come days later. */
const KEEP_SECONDS = 3 * 24 * 3600;

/*
 * The join of a submission and its receipt is one atomic step on each side, so they cannot pass each other:
 * either the receipt is kept first and the submission takes it, or the submission's ids are there first and
 * the receipt finds them. (As separate reads and writes, a receipt that looked before the ids were written
 * and kept itself after the submission looked would wait for a submission that had come and gone: the
 * attempt reported NO_RECEIPT and retried, a second SMS.)
 */

/**
 * A submission: KEYS = awaiting set, attempt hash, then per (part, reading) its id key and its unmatched
 * receipt key. ARGV = due time, awaiting member, submission, keep seconds, handset, then per pair its part
 * number. Records the attempt and its ids (each id as `member|part|handset`), and takes every receipt that
 * was waiting: returns [part, receipt]...
 */
const SUBMITTED = `
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], 'submission', ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[4])
local found = {}
local arg = 6
for i = 3, #KEYS, 2 do
  local part = ARGV[arg]
  arg = arg + 1
  redis.call('SET', KEYS[i], ARGV[2] .. '|' .. part .. '|' .. ARGV[5], 'EX', ARGV[4])
  local receipt = redis.call('GET', KEYS[i + 1])
  if receipt then
    table.insert(found, part)
    table.insert(found, receipt)
  end
end
return found
`;

/**
 * A receipt: KEYS = the unmatched set, its handset's set of unmatched receipts, then its id keys (one per
 * reading), then its unmatched keys (same count). ARGV = receipt, keep seconds, report time, unmatched
 * member, SMSC id ('' when the receipt names no handset), handset. Returns the part reference of its
 * submission, or keeps the receipt for it and returns false. SMSCs reuse ids (a restart, a counter that
 * wraps), and an earlier attempt's id is known for days: an id whose attempt went to another handset is
 * not this receipt's (handsets compared on their last 8 digits, as SMSCs write them with or without the
 * country code; an id recorded without its handset, or a receipt naming none, matches as before).
 */
const MATCH_OR_KEEP = `
local readings = (#KEYS - 2) / 2
local handset = string.sub(ARGV[6], -8)
for i = 3, readings + 2 do
  local ref = redis.call('GET', KEYS[i])
  if ref then
    local theirs = string.match(ref, '^[^|]*|[^|]*|[^|]*|(%d*)$') or ''
    if handset == '' or theirs == '' or string.sub(theirs, -8) == handset then return ref end
  end
end
for i = readings + 3, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[2], 'NX') end
redis.call('ZADD', KEYS[1], ARGV[3], ARGV[4])
if ARGV[5] ~= '' then
  redis.call('SADD', KEYS[2], ARGV[5])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
end
return false
`;

/**
 * Takes the report of an attempt's receipt outcome: KEYS = attempt hash, awaiting set; ARGV = member, now
 * (ms), how old an unconfirmed report must be to be taken again. Returns {state, afterMissed}: state 1
 * (taken) for the first taker, or when a report taken that long ago was never confirmed written (its taker
 * died before the write reached Kafka); 0 when it is written; 2 when another taker is writing it right now.
 * afterMissed 1 when the receipt had been reported missing first (a retry was asked for then).
 */
const CLAIM_REPORT = `
local held = redis.call('HGET', KEYS[1], 'reported')
if held == false then
  redis.call('ZREM', KEYS[2], ARGV[1])
  if redis.call('HGET', KEYS[1], 'missed') == '1' then redis.call('HSET', KEYS[1], 'after-missed', '1') end
elseif string.sub(held, 1, 8) ~= 'pending:' then
  return {0, 0}
elseif tonumber(ARGV[2]) - tonumber(string.sub(held, 9)) < tonumber(ARGV[3]) then
  return {2, 0}
end
redis.call('HSET', KEYS[1], 'reported', 'pending:' .. ARGV[2])
return {1, redis.call('HEXISTS', KEYS[1], 'after-missed')}
`;
/**
 * A part's final outcome: KEYS = attempt hash; ARGV = the part's field, its outcome. Records it unless one
 * was (the first receipt wins), and returns the attempt's hash as field, value, ... Empty when the attempt
 * is not known (its record expired while its SMSC id was still kept): nothing is written then, or the hash
 * would be left without its submission and without expiry.
 */
const PART_DONE = `
if redis.call('HEXISTS', KEYS[1], 'submission') == 0 then return {} end
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return redis.call('HGETALL', KEYS[1])
`;

/** A report taken this long ago and not confirmed written was lost with its taker (a redelivery comes later). */
const REPORT_STALE_MS = 5_000;

/** Who reports an attempt's receipt outcome: this caller, nobody (it is written), or another caller now. */
export type ReportClaim = { taken: true; afterMissed: boolean } | { taken: false; writing: boolean };

/**
 * The right to report an attempt's receipt missing: KEYS = attempt hash, awaiting set; ARGV = member.
 * 0 when its receipt was reported meanwhile (it leaves the schedule); 1 otherwise, marked missed. A claim
 * whose report never went out (a crash) is taken again when the lease ends: the report is idempotent.
 */
const CLAIM_MISSING = `
if redis.call('HEXISTS', KEYS[1], 'reported') == 1 or redis.call('HEXISTS', KEYS[1], 'submission') == 0 then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return 0
end
redis.call('HSET', KEYS[1], 'missed', '1')
return 1
`;

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

  private readonly submittedScript;
  private readonly matchOrKeepScript;
  private readonly partDoneScript;
  private readonly claimReportScript;
  private readonly claimMissing;

  constructor(private readonly redis: Redis) {
    this.awaiting = new LeasedSchedule(redis, AWAITING);
    this.unmatched = new LeasedSchedule(redis, UNMATCHED);
    this.submittedScript = batchedRedisScript(redis, 'ternDlrSubmitted', SUBMITTED);
    this.matchOrKeepScript = batchedRedisScript(redis, 'ternDlrMatchOrKeep', MATCH_OR_KEEP);
    this.partDoneScript = batchedRedisScript(redis, 'ternDlrPartDone', PART_DONE);
    this.claimReportScript = batchedRedisScript(redis, 'ternDlrClaimReport', CLAIM_REPORT);
    this.claimMissing = redisScript(redis, 'ternDlrClaimMissing', 2, CLAIM_MISSING);
  }

  /**
   * Records accepted submissions, each due for a receipt by its `receiptDueAt`, in one round trip; returns,
   * for each, the receipts that were waiting for it.
   */
  async submitted(
    submissions: readonly { result: events.SubmitResult; receiptDueAt: number }[],
  ): Promise<{ part: number; receipt: events.DeliveryReceipt }[][]> {
    const replies = (await this.submittedScript.run(
      submissions.map(({ result, receiptDueAt }) => {
        const keys = [AWAITING, attemptKey(result.messageId, result.attempt)];
        const parts: number[] = [];
        result.smscMessageIds.forEach((id, part) => {
          for (const reading of smscIdReadings(id)) {
            keys.push(idKey(result.channelId, reading), pendingKey(result.channelId, reading));
            parts.push(part);
          }
        });
        const submission = encodeMessage(events.SubmitResult, result).toString('base64');
        return {
          keys,
          args: [
            receiptDueAt,
            `${result.messageId}|${result.attempt}`,
            submission,
            KEEP_SECONDS,
            handsetOf(result.message?.to ?? ''),
            ...parts,
          ],
        };
      }),
    )) as string[][];
    return replies.map((found) => {
      const waiting = new Map<number, events.DeliveryReceipt>();
      for (let i = 0; i < found.length; i += 2) {
        const part = Number(found[i]);
        const receipt = events.DeliveryReceipt.decode(Buffer.from(found[i + 1]!, 'base64'));
        if (!waiting.has(part)) waiting.set(part, receipt);
      }
      return [...waiting].map(([part, receipt]) => ({ part, receipt }));
    });
  }

  /**
   * The part each receipt belongs to, in one round trip; a receipt whose submission is not known (yet) is
   * kept for it, to be reported unmatched at its `reportAt` if it never comes, and gets undefined.
   */
  async matchOrKeep(
    receipts: readonly { receipt: events.DeliveryReceipt; reportAt: number }[],
  ): Promise<(PartRef | undefined)[]> {
    const refs = (await this.matchOrKeepScript.run(
      receipts.map(({ receipt, reportAt }) => {
        const readings = smscIdReadings(receipt.smscMessageId);
        return {
          // Under every reading: the submission will name it in its own base, whichever that is.
          keys: [
            UNMATCHED,
            handsetReceiptsKey(receipt.channelId, receipt.handset),
            ...readings.map((r) => idKey(receipt.channelId, r)),
            ...readings.map((r) => pendingKey(receipt.channelId, r)),
          ],
          args: [
            encodeMessage(events.DeliveryReceipt, receipt).toString('base64'),
            KEEP_SECONDS,
            reportAt,
            unmatchedMember(receipt),
            receipt.handset ? receipt.smscMessageId : '',
            handsetOf(receipt.handset),
          ],
        };
      }),
    )) as (string | null)[];
    return refs.map((ref) => {
      if (!ref) return undefined;
      const [messageId = '', attempt = '0', part = '0'] = ref.split('|');
      return { messageId, attempt: Number(attempt), part: Number(part) };
    });
  }

  /**
   * Receipts still without a submission when their time to be reported came, each leased to the caller:
   * it reports the receipt and calls done(), which forgets it.
   */
  async unmatchedDue(now: number, limit: number): Promise<UnmatchedReceipt[]> {
    const members = await this.unmatched.lease(now, limit, UNMATCHED_LEASE_MS);
    const found: UnmatchedReceipt[] = [];
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
      found.push({
        receipt,
        done: () => this.dropUnmatched(receipt),
        postpone: (at) => this.unmatched.schedule(member, at),
      });
    }
    return found;
  }

  /** A kept receipt was applied to its submission: forgotten under every reading, out of the schedule. */
  matched(receipt: events.DeliveryReceipt): Promise<void> {
    return this.dropUnmatched(receipt);
  }

  private async dropUnmatched(receipt: events.DeliveryReceipt): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const reading of smscIdReadings(receipt.smscMessageId)) {
      pipeline.del(pendingKey(receipt.channelId, reading));
    }
    pipeline.zrem(UNMATCHED, unmatchedMember(receipt));
    if (receipt.handset)
      pipeline.srem(handsetReceiptsKey(receipt.channelId, receipt.handset), receipt.smscMessageId);
    await execOrThrow(pipeline);
  }

  /**
   * Records each part's final outcome unless one was recorded, in one round trip, in order; returns for each
   * its submission and every part's outcome recorded by then (undefined when the attempt is not known).
   */
  async partsDone(
    outcomes: readonly { ref: PartRef; outcome: string }[],
  ): Promise<({ submission: events.SubmitResult; parts: Map<number, string> } | undefined)[]> {
    const replies = (await this.partDoneScript.run(
      outcomes.map(({ ref, outcome }) => ({
        keys: [attemptKey(ref.messageId, ref.attempt)],
        args: [`part:${ref.part}`, outcome],
      })),
    )) as string[][];
    return replies.map((hash) => {
      let submission: string | undefined;
      const parts = new Map<number, string>();
      for (let i = 0; i < hash.length; i += 2) {
        const field = hash[i]!;
        if (field === 'submission') submission = hash[i + 1];
        else if (field.startsWith('part:')) parts.set(Number(field.slice(5)), hash[i + 1]!);
      }
      if (!submission) return undefined;
      return { submission: events.SubmitResult.decode(Buffer.from(submission, 'base64')), parts };
    });
  }

  /**
   * The right to report each attempt's receipt outcome, in one round trip, with whether its receipt had
   * been reported missing before (a retry was asked for then); refused when it is written, or being written
   * by another taker. The taker calls `reported` once the report is written, or `releaseReports` when it
   * could not be; a taker that died between is replaced after REPORT_STALE_MS.
   */
  async claimReports(attempts: readonly AttemptRef[]): Promise<ReportClaim[]> {
    const now = Date.now();
    const replies = (await this.claimReportScript.run(
      attempts.map(({ messageId, attempt }) => ({
        keys: [attemptKey(messageId, attempt), AWAITING],
        args: [`${messageId}|${attempt}`, now, REPORT_STALE_MS],
      })),
    )) as [number, number][];
    return replies.map(([state, afterMissed]) =>
      state === 1 ? { taken: true, afterMissed: afterMissed === 1 } : { taken: false, writing: state === 2 },
    );
  }

  /** These attempts' receipt outcomes are written (in Kafka): later receipts of them change nothing. */
  async reported(attempts: readonly AttemptRef[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const { messageId, attempt } of attempts)
      pipeline.hset(attemptKey(messageId, attempt), 'reported', 'done');
    await execOrThrow(pipeline);
  }

  /** The reports could not be written: the redelivered receipts take them again at once. */
  async releaseReports(attempts: readonly AttemptRef[]): Promise<void> {
    const pipeline = this.redis.pipeline();
    for (const { messageId, attempt } of attempts) pipeline.hdel(attemptKey(messageId, attempt), 'reported');
    await execOrThrow(pipeline);
  }

  /**
   * An attempt in doubt (the connector died between submit_sm and the answer, so its SMSC id is unknown),
   * kept under its channel and handset until `keepUntil` (its message's validity), for a receipt that no
   * submission claims.
   */
  async inDoubt(result: events.SubmitResult, handset: string, keepUntil: number): Promise<void> {
    const key = inDoubtKey(result.channelId, handset);
    const submission = encodeMessage(events.SubmitResult, result).toString('base64');
    const pipeline = this.redis.pipeline();
    pipeline.hset(key, `${result.messageId}|${result.attempt}`, submission);
    pipeline.pexpireat(key, Math.max(keepUntil, Date.now() + 60_000));
    await execOrThrow(pipeline);
  }

  /** The one attempt in doubt to this handset on this channel; undefined when none, or several (ambiguous). */
  async soleInDoubt(channelId: string, handset: string): Promise<events.SubmitResult | undefined> {
    const held = Object.values(await this.redis.hgetall(inDoubtKey(channelId, handset)));
    return held.length === 1 ? events.SubmitResult.decode(Buffer.from(held[0]!, 'base64')) : undefined;
  }

  /**
   * Gives an attempt in doubt the receipt no submission claimed: the attempt is recorded as submitted with
   * the receipt's SMSC id and marked as reported before (its FAILED report and retry went out already), and
   * the receipt, kept under that id, is returned to be applied.
   */
  async adoptInDoubt(
    result: events.SubmitResult,
    receipt: events.DeliveryReceipt,
  ): Promise<{ part: number; receipt: events.DeliveryReceipt }[]> {
    const adopted = { ...result, accepted: true, errorCode: '', smscMessageIds: [receipt.smscMessageId] };
    const [waiting = []] = await this.submitted([
      { result: adopted, receiptDueAt: Date.now() + KEEP_SECONDS * 1000 },
    ]);
    await this.redis.hset(attemptKey(result.messageId, result.attempt), 'missed', '1');
    return waiting;
  }

  /** The attempt in doubt was given its receipt: no other receipt is given to it. */
  async resolvedInDoubt(result: events.SubmitResult, handset: string): Promise<void> {
    await this.redis.hdel(inDoubtKey(result.channelId, handset), `${result.messageId}|${result.attempt}`);
  }

  /**
   * Unmatched receipts kept for this handset on this channel, for an attempt in doubt, each with its place
   * in the schedule of `unmatchedDue`: when it is looked at next, or when the lease of a caller looking at
   * it now ends.
   */
  async unmatchedForHandset(
    channelId: string,
    handset: string,
  ): Promise<{ receipt: events.DeliveryReceipt; dueAt: number }[]> {
    const members = await this.redis.smembers(handsetReceiptsKey(channelId, handset));
    const found: { receipt: events.DeliveryReceipt; dueAt: number }[] = [];
    for (const smscMessageId of members) {
      const [reading = ''] = smscIdReadings(smscMessageId);
      const [raw, dueAt] = await Promise.all([
        this.redis.get(pendingKey(channelId, reading)),
        this.redis.zscore(UNMATCHED, `${channelId}|${smscMessageId}`),
      ]);
      if (raw)
        found.push({
          receipt: events.DeliveryReceipt.decode(Buffer.from(raw, 'base64')),
          dueAt: Number(dueAt),
        });
    }
    return found;
  }

  /**
   * Attempts whose receipt is overdue and not reported, each leased to the caller for a minute: it claims
   * the missing-receipt report (which a late receipt may still overrule), reports it, and calls done().
   */
  async overdue(now: number, limit: number): Promise<OverdueAttempt[]> {
    const members = await this.awaiting.lease(now, limit, 60_000);
    const found: OverdueAttempt[] = [];
    for (const member of members) {
      const [messageId = '', attempt = '0'] = member.split('|');
      const key = attemptKey(messageId, Number(attempt));
      const [submission, reported] = await this.redis.hmget(key, 'submission', 'reported');
      if (!submission || reported) await this.awaiting.remove(member);
      else {
        found.push({
          submission: events.SubmitResult.decode(Buffer.from(submission, 'base64')),
          claim: async () => (await this.claimMissing.run(key, AWAITING, member)) === 1,
          done: () => this.awaiting.remove(member),
          postpone: (at) => this.awaiting.schedule(member, at),
        });
      }
    }
    return found;
  }
}

export interface OverdueAttempt {
  submission: events.SubmitResult;
  /** The right to report the receipt missing: false when the receipt was reported meanwhile. */
  claim: () => Promise<boolean>;
  /** The missing receipt is reported: the attempt leaves the schedule. */
  done: () => Promise<void>;
  /** Not reported now: looked at again at `at`. */
  postpone: (at: number) => Promise<void>;
}

export interface UnmatchedReceipt {
  receipt: events.DeliveryReceipt;
  /** Reported (or given to its attempt): forgotten. */
  done: () => Promise<void>;
  /** Kept waiting until `at`. */
  postpone: (at: number) => Promise<void>;
}

const inDoubtKey = (channelId: string, handset: string) => `tern:dlr:in-doubt:${channelId}:${handset}`;
const handsetReceiptsKey = (channelId: string, handset: string) =>
  `tern:dlr:unmatched-by-handset:${channelId}:${handset}`;
const attemptKey = (messageId: string, attempt: number) => `tern:dlr:attempt:${messageId}:${attempt}`;
const idKey = (channelId: string, reading: string) => `tern:dlr:id:${channelId}:${reading}`;
const pendingKey = (channelId: string, reading: string) => `tern:dlr:unmatched:${channelId}:${reading}`;
const unmatchedMember = (receipt: events.DeliveryReceipt) => `${receipt.channelId}|${receipt.smscMessageId}`;
