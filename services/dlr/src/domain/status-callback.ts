import { createHmac, timingSafeEqual } from 'node:crypto';
import { sms } from '@tern/contracts';

/** Headers of a status callback. */
export const CALLBACK_HEADERS = {
  /**
   * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the tenant's callback secret>`, and a
   * second `v1=` under the retiring secret while one is being rotated out.
   */
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
export function signCallback(secrets: readonly string[], timestampSeconds: number, body: string): string {
  const macs = secrets.map(
    (secret) => `v1=${createHmac('sha256', secret).update(`${timestampSeconds}.${body}`).digest('hex')}`,
  );
  return [`t=${timestampSeconds}`, ...macs].join(',');
}

/**
 * What a receiver does: true when one of the header's signatures signs this body with the secret, within
 * `toleranceSeconds`. (While a tenant's callback secret is rotated, each callback carries a signature under
 * the new secret and one under the retiring one: a receiver holding either accepts it.)
 */
export function verifyCallback(
  secret: string,
  header: string,
  body: string,
  nowSeconds: number,
  toleranceSeconds = 300,
): boolean {
  const parts = header.split(',').map((p) => p.split('=', 2) as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === 't')?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(signCallback([secret], t, body).split('v1=')[1] ?? '', 'hex');
  return parts.some(([k, v]) => {
    if (k !== 'v1' || v === undefined) return false;
    const given = Buffer.from(v, 'hex');
    return expected.length === given.length && timingSafeEqual(expected, given);
  });
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
