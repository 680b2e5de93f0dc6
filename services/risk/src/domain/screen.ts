import { events, sms } from '@tern/contracts';
import { checkSender, type SenderKind } from '@tern/sms-domain';
import { phishingSignal } from './content';
import { nextAllowedTime } from './hours';
import { NO_TENANT_POLICY, isAllowListed, type RiskPolicy, type TenantPolicy } from './policy';

/** The rule families, as metrics and reasons name them. */
export type RuleFamily = 'sender' | 'content' | 'fraud' | 'rate-limit' | 'opt-out' | 'hours';

export interface Rejection {
  rule: RuleFamily;
  code: string;
  description: string;
}

/** A change the screening made to a message (published as text in `adjustments`), and the rule behind it. */
export interface Adjustment {
  rule: RuleFamily;
  text: string;
}

/** What the rules that need no shared state decided: a rejection, or the message to screen further. */
export type StaticScreening =
  | { rejected: Rejection }
  | { rejected?: undefined; message: events.SmsMessage; adjustments: Adjustment[]; tenant: TenantPolicy };

const SENDER_TYPES: Record<SenderKind, sms.SenderType> = {
  alphanumeric: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
  shortcode: sms.SenderType.SENDER_TYPE_SHORTCODE,
  international: sms.SenderType.SENDER_TYPE_INTERNATIONAL,
};

/**
 * The policy's stateless rules, in order: sender ID (may replace the sender by the country's fallback),
 * content, high-risk ranges, marketing hours (sets the earliest send time). Pure: the same message, policy
 * and time decide the same.
 */
export function screenStatic(message: events.SmsMessage, policy: RiskPolicy, now: number): StaticScreening {
  const tenant = policy.tenants[message.tenantId] ?? NO_TENANT_POLICY;
  const country = policy.countries[message.country];
  const adjustments: Adjustment[] = [];
  let screened = message;
  const marketing = message.type === sms.MessageType.MESSAGE_TYPE_MARKETING;
  const otp = message.type === sms.MessageType.MESSAGE_TYPE_OTP;

  // Sender ID.
  if (tenant.otpSenders.length > 0) {
    const isOtpSender = tenant.otpSenders.includes(message.from);
    if (otp && !isOtpSender) {
      return reject(
        'sender',
        'SENDER_NOT_FOR_OTP',
        `OTPs of this tenant come only from ${tenant.otpSenders.join(', ')}`,
      );
    }
    if (marketing && isOtpSender) {
      return reject('sender', 'SENDER_RESERVED_FOR_OTP', `${message.from} is kept for one-time passwords`);
    }
  }
  const kind = checkSender(message.from);
  if (kind.ok && kind.kind === 'alphanumeric' && country && country.alphanumeric !== 'allowed') {
    const registered = tenant.registeredSenders[message.country] ?? [];
    const refusal =
      country.alphanumeric === 'none'
        ? { code: 'SENDER_NOT_ALLOWED', why: `${message.country} allows numeric senders only` }
        : registered.includes(message.from)
          ? undefined
          : {
              code: 'SENDER_NOT_REGISTERED',
              why: `${message.from} is not registered for ${message.country}`,
            };
    if (refusal) {
      const fallback = tenant.fallbackSenders[message.country];
      // The policy schema admits only numeric fallbacks, so the check below always classifies one.
      const fallbackKind = fallback === undefined ? undefined : checkSender(fallback);
      if (!fallback || !fallbackKind?.ok) return reject('sender', refusal.code, refusal.why);
      screened = { ...screened, from: fallback, senderType: SENDER_TYPES[fallbackKind.kind] };
      adjustments.push({
        rule: 'sender',
        text: `sender ${message.from} replaced by ${fallback} (${refusal.why})`,
      });
    }
  }

  // Content.
  for (const banned of policy.content.banned) {
    if (new RegExp(banned.pattern, 'iu').test(message.body)) {
      return reject('content', banned.code, `matches the banned pattern /${banned.pattern}/`);
    }
  }
  const phishing = phishingSignal(message.body, policy.content);
  if (phishing) return reject('content', phishing.code, phishing.description);
  if (
    marketing &&
    country?.marketingOptOutRequired &&
    !new RegExp(policy.content.optOutPattern, 'iu').test(message.body)
  ) {
    return reject('content', 'MISSING_OPT_OUT', `marketing to ${message.country} must say how to opt out`);
  }

  // High-risk ranges (premium rate, satellite, known IRSF ranges).
  if (!isAllowListed(tenant.allowList, message.to)) {
    const digits = message.to.replace(/^\+/, '');
    const range = policy.fraud.highRiskRanges
      .filter((r) => digits.startsWith(r.prefix))
      .sort((a, b) => b.prefix.length - a.prefix.length)[0];
    if (range && !tenant.allowedRiskCategories.includes(range.category)) {
      return reject('fraud', 'HIGH_RISK_RANGE', `+${range.prefix} is a ${range.category} range`);
    }
  }

  // Marketing hours: deferred, not dropped.
  if (marketing && country?.marketingHours) {
    const earliest = Math.max(now, screened.notBefore?.getTime() ?? 0);
    const allowed = nextAllowedTime(earliest, country.marketingHours);
    if (allowed > earliest) {
      screened = { ...screened, notBefore: new Date(allowed) };
      adjustments.push({
        rule: 'hours',
        text: `deferred to ${new Date(allowed).toISOString()}: marketing to ${message.country} is sent ${country.marketingHours.from}:00-${country.marketingHours.to}:00 local time`,
      });
    }
  }
  return { message: screened, adjustments, tenant };
}

function reject(rule: RuleFamily, code: string, description: string): { rejected: Rejection } {
  return { rejected: { rule, code, description } };
}

/** The destination prefix of `digits` digits (after "+"), for velocity and pacing keys. */
export function prefixOf(to: string, digits: number): string {
  return to.replace(/^\+/, '').slice(0, digits);
}
