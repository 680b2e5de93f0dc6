import { createHash } from 'node:crypto';
import { events, sms } from '@tern/contracts';
import {
  checkCallbackUrl,
  checkSender,
  parseRecipient,
  planBody,
  VALIDITY_LIMITS_MS,
  type NumberRanges,
  type SenderKind,
} from '@tern/sms-domain';

/** What validation needs besides the request: the clock and the deployment's choices. */
export interface IntakePolicy {
  now: Date;
  ranges?: NumberRanges;
  /** Local runs and tests call back to 127.0.0.1; production never does. */
  allowPrivateCallbacks: boolean;
  maxSegments: number;
}

/** One rule one field broke: `field` is the request path, `code` the stable reason. */
export interface Violation {
  field: string;
  code: string;
  description: string;
}

export type Validated =
  { ok: true; message: events.SmsMessage; fingerprint: string } | { ok: false; violations: Violation[] };

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const DEFAULT_VALIDITY_MS: Record<sms.MessageType, number> = {
  [sms.MessageType.MESSAGE_TYPE_UNSPECIFIED]: 48 * HOUR,
  [sms.MessageType.MESSAGE_TYPE_OTP]: 10 * MINUTE,
  [sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL]: 48 * HOUR,
  [sms.MessageType.MESSAGE_TYPE_MARKETING]: 48 * HOUR,
};
const MAX_SCHEDULE_AHEAD_MS = 30 * 24 * HOUR;
/** A send_at a little in the past is clock skew between the caller and us, not an error. */
export const CLOCK_SKEW_MS = 5 * MINUTE;
const CLIENT_REFERENCE = /^[\x21-\x7e]{1,128}$/;
const LABEL_KEY = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_LABELS = 20;

const SENDER_TYPES: Record<SenderKind, sms.SenderType> = {
  alphanumeric: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
  shortcode: sms.SenderType.SENDER_TYPE_SHORTCODE,
  international: sms.SenderType.SENDER_TYPE_INTERNATIONAL,
};
const ENCODINGS = { GSM7: sms.Encoding.ENCODING_GSM7, UCS2: sms.Encoding.ENCODING_UCS2 } as const;

/**
 * Validates a send request and enriches it into the platform's message, once: recipient in E.164 with
 * country and carrier, sender kind, encoding and segment count, type (default transactional), validity
 * (default by type), schedule, callback URL, labels. Every broken rule is reported, each with its field.
 * `field` prefixes paths for batch items (`messages[3].`).
 */
export function validateSendRequest(
  request: sms.SendMessageRequest,
  tenantId: string,
  messageId: string,
  policy: IntakePolicy,
  field = '',
): Validated {
  const violations: Violation[] = [];
  const fail = (name: string, code: string, description: string) =>
    violations.push({ field: `${field}${name}`, code, description });

  const recipient = parseRecipient(request.to, policy.ranges);
  if (!recipient.ok) fail('to', recipient.error.code, recipient.error.description);
  const sender = checkSender(request.from);
  if (!sender.ok) fail('from', sender.code, sender.description);
  const body = planBody(request.body, policy.maxSegments);
  if (!body.ok) fail('body', body.code, body.description);

  const type =
    request.type === sms.MessageType.MESSAGE_TYPE_UNSPECIFIED
      ? sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL
      : request.type;
  if (!Object.values(sms.MessageType).includes(type)) {
    fail(
      'type',
      'INVALID_TYPE',
      'must be MESSAGE_TYPE_OTP, MESSAGE_TYPE_TRANSACTIONAL or MESSAGE_TYPE_MARKETING',
    );
  }
  if (request.clientReference !== '' && !CLIENT_REFERENCE.test(request.clientReference)) {
    fail('client_reference', 'INVALID_REFERENCE', 'up to 128 printable ASCII characters, no spaces');
  }

  const validityMs = validityMsOf(request);
  if (request.validity && (validityMs < VALIDITY_LIMITS_MS.min || validityMs > VALIDITY_LIMITS_MS.max)) {
    fail('validity', 'INVALID_VALIDITY', 'between 1 minute and 72 hours');
  }
  const now = policy.now.getTime();
  let notBefore: Date | undefined;
  if (request.sendAt) {
    const at = request.sendAt.getTime();
    if (Number.isNaN(at) || at < now - CLOCK_SKEW_MS || at > now + MAX_SCHEDULE_AHEAD_MS) {
      fail('send_at', 'INVALID_SCHEDULE', 'from now to 30 days ahead');
    } else if (at > now) {
      notBefore = request.sendAt;
    }
  }

  let callbackUrl = '';
  if (request.callbackUrl !== '') {
    const callback = checkCallbackUrl(request.callbackUrl, { allowPrivate: policy.allowPrivateCallbacks });
    if (callback.ok) callbackUrl = callback.url;
    else fail('callback_url', 'INVALID_CALLBACK_URL', callback.description);
  }

  const labels = Object.entries(request.labels);
  if (labels.length > MAX_LABELS) fail('labels', 'INVALID_LABELS', `at most ${MAX_LABELS} labels`);
  for (const [key, value] of labels) {
    if (!LABEL_KEY.test(key)) fail(`labels[${key}]`, 'INVALID_LABELS', 'keys: 1-64 of A-Z a-z 0-9 _ . -');
    else if (value.length > 256) fail(`labels[${key}]`, 'INVALID_LABELS', 'values: up to 256 characters');
  }

  if (!recipient.ok || !sender.ok || !body.ok || violations.length > 0) return { ok: false, violations };

  const { e164, country, carrier } = recipient.recipient;
  const message: events.SmsMessage = {
    messageId,
    tenantId,
    clientReference: request.clientReference,
    type,
    to: e164,
    from: sender.sender,
    senderType: SENDER_TYPES[sender.kind],
    body: request.body,
    encoding: ENCODINGS[body.plan.encoding],
    segments: body.plan.segments,
    country,
    mccMnc: carrier?.mccMnc ?? '',
    callbackUrl,
    labels: request.labels,
    acceptedAt: policy.now,
    expiresAt: new Date((notBefore?.getTime() ?? now) + validityMs),
    notBefore,
  };
  return { ok: true, message, fingerprint: fingerprint(message, validityMs) };
}

/** How long a request's message is worth delivering: its own validity, or its type's default. */
export function validityMsOf(request: Pick<sms.SendMessageRequest, 'validity' | 'type'>): number {
  if (request.validity) return request.validity.seconds * 1000 + Math.floor(request.validity.nanos / 1e6);
  return DEFAULT_VALIDITY_MS[request.type] ?? DEFAULT_VALIDITY_MS[sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL];
}

/**
 * Whether a send event may still be sent, judged by its signed send time: not once it was sent longer ago
 * than its message's validity (a new deployment's first read of the topic, or a long outage, must not
 * deliver yesterday's login codes), nor when it claims to come from further ahead than clock skew explains
 * (it would stay valid, and replayable, for longer than its validity). `until`: when its validity ends.
 */
export function eventWindow(
  request: Pick<sms.SendMessageRequest, 'validity' | 'type'>,
  sentAt: Date,
  now: Date,
): { verdict: 'open'; until: Date } | { verdict: 'expired' | 'ahead' } {
  if (sentAt.getTime() > now.getTime() + CLOCK_SKEW_MS) return { verdict: 'ahead' };
  const until = sentAt.getTime() + validityMsOf(request);
  return now.getTime() > until ? { verdict: 'expired' } : { verdict: 'open', until: new Date(until) };
}

/**
 * What makes two requests with the same client reference the same request: a repeat with different
 * content is the caller's bug, and answering it with the first message's id would hide that.
 */
function fingerprint(message: events.SmsMessage, validityMs: number): string {
  const canonical = JSON.stringify([
    message.to,
    message.from,
    message.body,
    message.type,
    validityMs,
    message.notBefore?.toISOString() ?? '',
    message.callbackUrl,
    Object.entries(message.labels).sort(([a], [b]) => (a < b ? -1 : 1)),
  ]);
  return createHash('sha256').update(canonical).digest('base64url');
}
