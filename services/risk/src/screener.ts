import { events, sms, statusEvent } from '@tern/contracts';
import { PoisonMessageError, topics, type TypedProducer } from '@tern/kafka';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Counter } from 'prom-client';
import { optOutScopes } from './domain/opt-out';
import type { RiskPolicy, TenantPolicy } from './domain/policy';
import { pumpingVerdict } from './domain/pumping';
import { prefixOf, screenStatic, type Rejection } from './domain/screen';
import { numberHash, type Pace, type RiskState } from './risk-state';

const decisions = new Counter({
  name: 'tern_risk_decisions_total',
  help: 'Screening decisions by rule family and outcome (approved, adjusted, deferred, rejected)',
  labelNames: ['rule', 'outcome'],
  registers: [metricsRegistry],
});

const pumping = new Counter({
  name: 'tern_risk_pumping_total',
  help: 'OTPs to number ranges whose codes are almost never used (SMS pumping): refused (mode enforce) or only recorded (mode monitor)',
  labelNames: ['mode', 'country'],
  registers: [metricsRegistry],
});

const TYPE_NAMES = {
  [sms.MessageType.MESSAGE_TYPE_OTP]: 'otp',
  [sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL]: 'transactional',
  [sms.MessageType.MESSAGE_TYPE_MARKETING]: 'marketing',
} as const;

/**
 * Screens one accepted message: the stateless rules first (no shared state spent on a message they reject),
 * then the opt-out list, the OTP velocity screens, the per-recipient windows, the pumping screen (OTPs to a
 * range whose codes are never used) and the paces, which need the shared state in Redis. Publishes
 * `sms.approved` (with every adjustment and deferral named) or a REJECTED status with the rule's code and a
 * sentence.
 */
export class Screener {
  constructor(
    private readonly deps: {
      policy: () => RiskPolicy;
      state: RiskState;
      producer: TypedProducer;
      log: Logger;
    },
  ) {}

  async screen(event: events.MessageAccepted): Promise<void> {
    const message = event.message;
    if (!message?.messageId)
      throw new PoisonMessageError('MISSING_MESSAGE', 'event without a message', 'message');
    const policy = this.deps.policy();
    const screened = screenStatic(message, policy, Date.now());
    if (screened.rejected) return this.reject(message, screened.rejected);
    const rejection = await this.screenShared(screened.message, policy, screened.tenant.allowList);
    if (rejection) return this.reject(message, rejection);

    const out = { ...screened.message };
    const adjustments = [...screened.adjustments];
    const pumped = await this.pumping(out, policy, screened.tenant);
    if (pumped?.mode === 'enforce') {
      return this.reject(message, {
        rule: 'fraud',
        code: 'PUMPING_NO_CONVERSIONS',
        description: pumped.description,
      });
    }
    if (pumped)
      adjustments.push({
        rule: 'fraud',
        text: `monitor: would be refused as pumping (${pumped.description})`,
      });
    const notBefore = out.notBefore?.getTime() ?? 0;
    if (notBefore <= Date.now()) {
      const paced = await this.deps.state.pace(this.paces(out, policy), policy.limits.maxDeferSeconds * 1000);
      if (!paced) {
        return this.reject(message, {
          rule: 'rate-limit',
          code: 'RATE_LIMITED',
          description: `traffic is more than ${policy.limits.maxDeferSeconds} s ahead of its pace`,
        });
      }
      if (paced.at > paced.now) {
        out.notBefore = new Date(paced.at);
        adjustments.push({
          rule: 'rate-limit',
          text: `paced to ${out.notBefore.toISOString()} (${paced.at - paced.now} ms later)`,
        });
      }
    }
    await this.deps.producer.enqueue(topics.approved, {
      message: out,
      adjustments: adjustments.map((a) => a.text),
    });
    await this.countForPumping(out, policy);
    const deferred = (out.notBefore?.getTime() ?? 0) > Date.now();
    const outcome = deferred ? 'deferred' : adjustments.length > 0 ? 'adjusted' : 'approved';
    decisions.inc({ rule: adjustments.at(-1)?.rule ?? 'none', outcome });
  }

  private async screenShared(
    message: events.SmsMessage,
    policy: RiskPolicy,
    allowList: readonly string[],
  ): Promise<Rejection | undefined> {
    const { state } = this.deps;
    const type = TYPE_NAMES[message.type as keyof typeof TYPE_NAMES] ?? 'transactional';
    if (
      type === 'marketing' &&
      (await state.optedOut(optOutScopes(policy, message.from, message.tenantId), message.to))
    ) {
      return {
        rule: 'opt-out',
        code: 'OPTED_OUT',
        description: 'the recipient opted out of this sender’s marketing',
      };
    }
    const allowListed = allowList.some((p) => message.to.replace(/^\+/, '').startsWith(p));
    const { otpVelocity, otpCountryVelocity } = policy.fraud;
    if (type === 'otp' && !allowListed && otpVelocity) {
      const prefix = prefixOf(message.to, otpVelocity.digits);
      const key = `v:${message.tenantId}:${prefix}`;
      if (!(await state.admit(key, message.messageId, otpVelocity.count, otpVelocity.windowSeconds))) {
        return {
          rule: 'fraud',
          code: 'PUMPING_SUSPECTED',
          description: `more than ${otpVelocity.count} OTPs to +${prefix}… within ${otpVelocity.windowSeconds} s: held`,
        };
      }
    }
    if (type === 'otp' && !allowListed && otpCountryVelocity) {
      const key = `vc:${message.tenantId}:${message.country}`;
      if (
        !(await state.admit(
          key,
          message.messageId,
          otpCountryVelocity.count,
          otpCountryVelocity.windowSeconds,
        ))
      ) {
        return {
          rule: 'fraud',
          code: 'COUNTRY_SURGE',
          description: `more than ${otpCountryVelocity.count} OTPs to ${message.country} within ${otpCountryVelocity.windowSeconds} s: held`,
        };
      }
    }
    const perRecipient = policy.limits.perRecipient[type];
    if (perRecipient) {
      const key = `r:${message.tenantId}:${type}:${numberHash(message.to)}`;
      if (!(await state.admit(key, message.messageId, perRecipient.count, perRecipient.windowSeconds))) {
        return {
          rule: 'rate-limit',
          code: 'RECIPIENT_RATE_LIMITED',
          description: `at most ${perRecipient.count} ${type} messages to one number within ${perRecipient.windowSeconds} s`,
        };
      }
    }
    return undefined;
  }

  /** The pumping screen's verdict on an OTP, when its range looks pumped (counted in the metric). */
  private async pumping(message: events.SmsMessage, policy: RiskPolicy, tenant: TenantPolicy) {
    const settings = policy.fraud.pumping;
    const mode = tenant.pumping ?? settings?.mode ?? 'off';
    if (!settings || mode === 'off' || message.type !== sms.MessageType.MESSAGE_TYPE_OTP) return undefined;
    const digits = message.to.replace(/^\+/, '');
    if (tenant.allowList.some((p) => digits.startsWith(p))) return undefined;
    const prefix = prefixOf(message.to, settings.digits);
    const range = await this.deps.state.rangeConversions(message.tenantId, prefix, {
      windowMs: settings.windowSeconds * 1000,
      judgeAfterMs: settings.judgeAfterSeconds * 1000,
    });
    const verdict = pumpingVerdict(range, prefix, settings, mode);
    if (verdict.kind === 'clear') return undefined;
    pumping.inc({ mode: verdict.mode, country: message.country });
    return verdict;
  }

  /** A used OTP code counts for its range's conversion rate. */
  async conversionReported(conversion: events.ConversionReported): Promise<void> {
    const settings = this.deps.policy().fraud.pumping;
    if (!settings || conversion.type !== sms.MessageType.MESSAGE_TYPE_OTP || !conversion.to) return;
    const prefix = prefixOf(conversion.to, settings.digits);
    await this.deps.state.converted(
      conversion.tenantId,
      prefix,
      conversion.messageId,
      settings.windowSeconds * 1000,
    );
  }

  /** An approved OTP counts toward its range's conversion rate. */
  private async countForPumping(message: events.SmsMessage, policy: RiskPolicy): Promise<void> {
    const settings = policy.fraud.pumping;
    if (!settings || message.type !== sms.MessageType.MESSAGE_TYPE_OTP) return;
    const prefix = prefixOf(message.to, settings.digits);
    await this.deps.state.otpSent(message.tenantId, prefix, message.messageId, settings.windowSeconds * 1000);
  }

  private paces(message: events.SmsMessage, policy: RiskPolicy): Pace[] {
    const { perTenant, perTenantCountry, perPrefix } = policy.limits;
    const paces: Pace[] = [];
    if (perTenant) paces.push({ key: `t:${message.tenantId}`, perSecond: perTenant.perSecond });
    if (perTenantCountry) {
      paces.push({ key: `tc:${message.tenantId}:${message.country}`, perSecond: perTenantCountry.perSecond });
    }
    if (perPrefix)
      paces.push({ key: `np:${prefixOf(message.to, perPrefix.digits)}`, perSecond: perPrefix.perSecond });
    return paces;
  }

  private async reject(message: events.SmsMessage, rejection: Rejection): Promise<void> {
    const reason: sms.StatusReason = {
      code: rejection.code,
      description: rejection.description,
      retryable: false,
    };
    await this.deps.producer.enqueue(
      topics.status,
      statusEvent(message, sms.MessageStatus.MESSAGE_STATUS_REJECTED, new Date(), { reason }),
    );
    decisions.inc({ rule: rejection.rule, outcome: 'rejected' });
    this.deps.log.debug(
      { messageId: message.messageId, rule: rejection.rule, code: rejection.code },
      'rejected',
    );
  }
}
