import { createHmac, timingSafeEqual } from 'node:crypto';
import { sms } from '@tern/contracts';

/** Headers of a status callback. */
export const CALLBACK_HEADERS = {
  /** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the tenant's callback secret>`. */
  signature: 'x-tern-signature',
  /** The same for every delivery try of one event: receivers drop repeats by it. */
  eventId: 'x-tern-event-id',
} as const;

/**
 * The identity of a status event: the same event redelivered by Kafka, or posted again after a failed try,
 * has the same id; two different changes of one attempt (a missing receipt, then the late receipt) do not.
 */
export function callbackEventId(event: sms.StatusEvent): string {
  return [
    event.messageId,
    event.attempt,
    sms.messageStatusToJSON(event.status),
    event.reason?.code ?? '',
  ].join(':');
}

/** The body posted: the event in the API's JSON form (what StreamStatus clients read), without routing data. */
export function callbackBody(event: sms.StatusEvent): string {
  return JSON.stringify(sms.StatusEvent.toJSON({ ...event, callbackUrl: '', cursor: '' }));
}

/**
 * Signature over the timestamp and the exact body, Stripe-style, so a receiver can refuse both forged and
 * replayed posts (a timestamp too far from its clock).
 */
export function signCallback(secret: string, timestampSeconds: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/** What a receiver does: true when the header signs this body with the secret, within `toleranceSeconds`. */
export function verifyCallback(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts['t']);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds || !parts['v1']) return false;
  const expected = Buffer.from(signCallback(secret, t, body).split('v1=')[1] ?? '', 'hex');
  const given = Buffer.from(parts['v1'], 'hex');
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/**
 * When to try a failed callback again: exponential from `baseMs`, capped at `maxMs`, with ±20% jitter so a
 * receiver that comes back is not hit by every waiting event at once. undefined: give up (past `giveUpMs`
 * since the first try).
 */
export function nextCallbackTry(
  tries: number,
  firstTriedAt: number,
  now: number,
  policy: { baseMs: number; maxMs: number; giveUpMs: number },
  random: () => number = Math.random,
): number | undefined {
  if (now - firstTriedAt >= policy.giveUpMs) return undefined;
  const delay = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, tries - 1));
  const jittered = delay * (0.8 + 0.4 * random());
  return Math.min(Math.round(now + jittered), firstTriedAt + policy.giveUpMs);
}
