import { createHash } from 'node:crypto';
import { events, sms } from '@tern/contracts';
import { isAllowListed, type RiskPolicy } from './policy';
import { prefixOf, type Rejection } from './screen';

/** A sliding window a message must fit in (key without the Redis prefix), and the refusal when it is full. */
export interface WindowClaim {
  key: string;
  limit: number;
  windowSeconds: number;
  refusal: Rejection;
}

/** A pace (GCRA, one second of burst) a message takes a slot of. */
export interface PaceClaim {
  key: string;
  perSecond: number;
}

const TYPE_NAMES = {
  [sms.MessageType.MESSAGE_TYPE_OTP]: 'otp',
  [sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL]: 'transactional',
  [sms.MessageType.MESSAGE_TYPE_MARKETING]: 'marketing',
} as const;

/**
 * The windows a message counts in, in the order their refusals take precedence: the OTP velocity screens
 * (per destination prefix, then per country; allow-listed numbers skip them), then the per-recipient window
 * of its type.
 */
export function windowClaims(
  message: events.SmsMessage,
  policy: RiskPolicy,
  allowList: readonly string[],
): WindowClaim[] {
  const type = TYPE_NAMES[message.type as keyof typeof TYPE_NAMES] ?? 'transactional';
  const allowListed = isAllowListed(allowList, message.to);
  const { otpVelocity, otpCountryVelocity } = policy.fraud;
  const claims: WindowClaim[] = [];
  if (type === 'otp' && !allowListed && otpVelocity) {
    const prefix = prefixOf(message.to, otpVelocity.digits);
    claims.push({
      key: `v:${message.tenantId}:${prefix}`,
      limit: otpVelocity.count,
      windowSeconds: otpVelocity.windowSeconds,
      refusal: {
        rule: 'fraud',
        code: 'PUMPING_SUSPECTED',
        description: `more than ${otpVelocity.count} OTPs to +${prefix}… within ${otpVelocity.windowSeconds} s: held`,
      },
    });
  }
  if (type === 'otp' && !allowListed && otpCountryVelocity) {
    claims.push({
      key: `vc:${message.tenantId}:${message.country}`,
      limit: otpCountryVelocity.count,
      windowSeconds: otpCountryVelocity.windowSeconds,
      refusal: {
        rule: 'fraud',
        code: 'COUNTRY_SURGE',
        description: `more than ${otpCountryVelocity.count} OTPs to ${message.country} within ${otpCountryVelocity.windowSeconds} s: held`,
      },
    });
  }
  const perRecipient = policy.limits.perRecipient[type];
  if (perRecipient) {
    claims.push({
      key: `r:${message.tenantId}:${type}:${numberHash(message.to)}`,
      limit: perRecipient.count,
      windowSeconds: perRecipient.windowSeconds,
      refusal: {
        rule: 'rate-limit',
        code: 'RECIPIENT_RATE_LIMITED',
        description: `at most ${perRecipient.count} ${type} messages to one number within ${perRecipient.windowSeconds} s`,
      },
    });
  }
  return claims;
}

/** The paces a message takes a slot of: its tenant's, its tenant's in its country, its destination prefix's. */
export function paceClaims(message: events.SmsMessage, policy: RiskPolicy): PaceClaim[] {
  const { perTenant, perTenantCountry, perPrefix } = policy.limits;
  const paces: PaceClaim[] = [];
  if (perTenant) paces.push({ key: `t:${message.tenantId}`, perSecond: perTenant.perSecond });
  if (perTenantCountry) {
    paces.push({ key: `tc:${message.tenantId}:${message.country}`, perSecond: perTenantCountry.perSecond });
  }
  if (perPrefix) {
    paces.push({ key: `np:${prefixOf(message.to, perPrefix.digits)}`, perSecond: perPrefix.perSecond });
  }
  return paces;
}

/** A number as a key part: hashed, so Redis holds no recipient in clear. */
export function numberHash(number: string): string {
  return createHash('sha256').update(number).digest('base64url').slice(0, 22);
}
