import { checkSender } from '@tern/sms-domain';
import { z } from 'zod';

const countryCode = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2');
/** Digits of an E.164 number after "+", as a prefix: "4470" is +44 70... */
const numberPrefix = z.string().regex(/^\d{1,15}$/, 'digits of an E.164 prefix, without "+"');
const sender = z.string().min(3).max(16);
const hour = z.number().int().min(0).max(24);
const numericSender = z.string().refine((s) => {
  const check = checkSender(s);
  return check.ok && check.kind !== 'alphanumeric';
}, 'a numeric sender: a short code (3-8 digits) or an E.164 number');

const countryPolicy = z.object({
  /** allowed: any alphanumeric sender; registered: only senders the tenant registered here; none: numeric only. */
  alphanumeric: z.enum(['allowed', 'registered', 'none']).default('allowed'),
  /** Marketing must carry opt-out text here (e.g. "STOP to ..."). */
  marketingOptOutRequired: z.boolean().default(false),
  /** Local hours when marketing may be sent ([from, to), in the country's IANA time zone); outside them it waits. */
  marketingHours: z.object({ from: hour, to: hour, timeZone: z.string().min(1) }).optional(),
});

const tenantPolicy = z.object({
  /** Alphanumeric senders registered per country (where the country requires registration). */
  registeredSenders: z.record(countryCode, z.array(sender)).default({}),
  /** A numeric sender put in place of a sender the country does not allow, per country. */
  fallbackSenders: z.record(countryCode, numericSender).default({}),
  /** If set, OTPs may only come from these senders, and marketing never from them (a login code's sender stays trusted). */
  otpSenders: z.array(sender).default([]),
  /** High-risk range categories this tenant may still send to (e.g. satellite for a maritime service). */
  allowedRiskCategories: z.array(z.string()).default([]),
  /** Number prefixes exempt from the high-risk and velocity screens for this tenant (known good traffic). */
  allowList: z.array(numberPrefix).default([]),
  /** This tenant's pumping screen mode, instead of the policy's (see fraud.pumping). */
  pumping: z.enum(['off', 'monitor', 'enforce']).optional(),
});

const windowLimit = z.object({
  count: z.number().int().positive(),
  windowSeconds: z.number().int().positive(),
});
const paceLimit = z.object({ perSecond: z.number().positive() });

export const riskPolicySchema = z.object({
  countries: z.record(countryCode, countryPolicy).default({}),
  tenants: z.record(z.string().min(1), tenantPolicy).default({}),
  content: z
    .object({
      /** Regular expressions (case-insensitive) that reject a message outright, each with its code. */
      banned: z
        .array(z.object({ pattern: z.string().min(1), code: z.string().regex(/^[A-Z_]+$/) }))
        .default([]),
      /** Link-shortener hosts: their links hide where they lead, phishing's favourite tool. */
      shorteners: z
        .array(z.string())
        .default(['bit.ly', 'tinyurl.com', 't.co', 'goo.gl', 'is.gd', 'ow.ly', 'cutt.ly', 'rb.gy']),
      /** Brand names whose lookalike domains (one edit away, digits for letters) are phishing signals. */
      brands: z
        .array(z.string().min(3))
        .default(['paypal', 'apple', 'google', 'amazon', 'microsoft', 'netflix', 'whatsapp', 'facebook']),
      /** What counts as opt-out text in marketing. */
      optOutPattern: z.string().default('\\b(stop|unsubscribe|opt[ -]?out)\\b'),
    })
    .prefault({}),
  limits: z
    .object({
      /** Per recipient and tenant, by message type: more in the window is rejected (burst). */
      perRecipient: z
        .object({
          otp: windowLimit.optional(),
          transactional: windowLimit.optional(),
          marketing: windowLimit.optional(),
        })
        .default({}),
      /** Paces (smoothing): traffic above the rate is deferred, not rejected. */
      perTenant: paceLimit.optional(),
      perTenantCountry: paceLimit.optional(),
      /** Per destination number prefix of `digits` digits, across tenants. */
      perPrefix: paceLimit.extend({ digits: z.number().int().min(2).max(12) }).optional(),
      /** A deferral longer than this is a rejection instead (the traffic is far above its pace). */
      maxDeferSeconds: z.number().int().positive().default(3600),
    })
    .prefault({}),
  fraud: z
    .object({
      /** Premium-rate, satellite, IRSF-abused ranges: blocked unless the tenant allows the category. */
      highRiskRanges: z.array(z.object({ prefix: numberPrefix, category: z.string().min(1) })).default([]),
      /**
       * OTP velocity per tenant and destination prefix: more than `count` OTPs to one prefix of `digits`
       * digits within the window is a surge (SMS pumping); further OTPs to it are held.
       */
      otpVelocity: z
        .object({
          digits: z.number().int().min(3).max(12),
          count: z.number().int().positive(),
          windowSeconds: z.number().int().positive(),
        })
        .optional(),
      /** OTPs per tenant to one country within the window above which a surge is held. */
      otpCountryVelocity: windowLimit.optional(),
      /**
       * SMS pumping by conversions: a number range (prefix of `digits` digits) that got at least `minOtps` of
       * a tenant's OTPs, each old enough to have been used (`judgeAfterSeconds`), within `windowSeconds`,
       * and whose codes were used at most `maxConversionRate` of the time, gets no more of that tenant's
       * OTPs (`enforce`), or only has them recorded as what would have been refused (`monitor`). Applies to
       * tenants that report conversions (any in the window).
       */
      pumping: z
        .object({
          mode: z.enum(['off', 'monitor', 'enforce']).default('monitor'),
          digits: z.number().int().min(3).max(12).default(7),
          windowSeconds: z.number().int().positive().default(3600),
          judgeAfterSeconds: z.number().int().positive().default(120),
          minOtps: z.number().int().positive().default(20),
          maxConversionRate: z.number().min(0).max(1).default(0.05),
        })
        .optional(),
    })
    .prefault({}),
});

export type RiskPolicy = z.output<typeof riskPolicySchema>;
export type TenantPolicy = z.output<typeof tenantPolicy>;
export type PumpingPolicy = NonNullable<RiskPolicy['fraud']['pumping']>;
export const NO_TENANT_POLICY: TenantPolicy = tenantPolicy.parse({});

/** Whether a number (E.164) is in a tenant's allow-list: it skips the high-risk, velocity and pumping screens. */
export function isAllowListed(allowList: readonly string[], to: string): boolean {
  const digits = to.replace(/^\+/, '');
  return allowList.some((prefix) => digits.startsWith(prefix));
}
