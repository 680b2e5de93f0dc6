import { events, sms, statusEvent } from '@tern/contracts';
import { PoisonMessageError, topics, type TypedProducer } from '@tern/kafka';
import { metricsRegistry, type Logger } from '@tern/telemetry';
import { Counter } from 'prom-client';
import { paceClaims, windowClaims } from './domain/claims';
import { optOutScopes } from './domain/opt-out';
import { isAllowListed, type RiskPolicy, type TenantPolicy } from './domain/policy';
import { pumpingVerdict } from './domain/pumping';
import { prefixOf, screenStatic, type Rejection } from './domain/screen';
import type { RiskState } from './risk-state';

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

/**
 * Screens one accepted message: the stateless rules first (no shared state spent on a message they reject),
 * then the rules that need the shared state in Redis: the opt-out list, the OTP velocity screens, the
 * per-recipient windows, the pumping screen (OTPs to a range whose codes are never used) and the paces.
 * Redis is asked twice at most: one read (opt-outs, the range's conversions), then one claim of every window,
 * pace slot and pumping count, all or nothing, so a refused message spends none of them. Publishes
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
    const out = { ...screened.message };
    const adjustments = [...screened.adjustments];

    const { state } = this.deps;
    const pumpingRange = this.pumpingRange(out, policy, screened.tenant);
    const [optedOut, range] = await Promise.all([
      out.type === sms.MessageType.MESSAGE_TYPE_MARKETING &&
        state.optedOut(optOutScopes(policy, out.from, out.tenantId), out.to),
      pumpingRange && state.rangeConversions(out.tenantId, pumpingRange.prefix, pumpingRange),
    ]);
    if (optedOut) {
      return this.reject(message, {
        rule: 'opt-out',
        code: 'OPTED_OUT',
        description: 'the recipient opted out of this sender’s marketing',
      });
    }
    const pumped =
      pumpingRange &&
      range &&
      pumpingVerdict(range, pumpingRange.prefix, pumpingRange.settings, pumpingRange.mode);
    const refusedAsPumped = pumped?.kind === 'pumped' && pumped.mode === 'enforce';
    // Paced only when it may go now: a message deferred to later (marketing hours) keeps its time.
    const paced = (out.notBefore?.getTime() ?? 0) <= Date.now();
    const claim = await state.claim({
      messageId: out.messageId,
      windows: windowClaims(out, policy, screened.tenant.allowList),
      paces: paced ? paceClaims(out, policy) : [],
      maxDelayMs: policy.limits.maxDeferSeconds * 1000,
      ...(pumpingRange && {
        sentTo: { tenantId: out.tenantId, prefix: pumpingRange.prefix, windowMs: pumpingRange.windowMs },
      }),
      commit: !refusedAsPumped,
    });
    if (claim.kind === 'window-full') return this.reject(message, claim.window.refusal);
    if (pumped?.kind === 'pumped') {
      pumping.inc({ mode: pumped.mode, country: out.country });
      if (refusedAsPumped) {
        return this.reject(message, {
          rule: 'fraud',
          code: 'PUMPING_NO_CONVERSIONS',
          description: pumped.description,
        });
      }
      adjustments.push({
        rule: 'fraud',
        text: `monitor: would be refused as pumping (${pumped.description})`,
      });
    }
    if (claim.kind === 'too-late') {
      return this.reject(message, {
        rule: 'rate-limit',
        code: 'RATE_LIMITED',
        description: `traffic is more than ${policy.limits.maxDeferSeconds} s ahead of its pace`,
      });
    }
    if (claim.kind === 'claimed' && claim.at > claim.now) {
      out.notBefore = new Date(claim.at);
      adjustments.push({
        rule: 'rate-limit',
        text: `paced to ${out.notBefore.toISOString()} (${claim.at - claim.now} ms later)`,
      });
    }
    await this.deps.producer.enqueue(topics.approved, {
      message: out,
      adjustments: adjustments.map((a) => a.text),
    });
    const deferred = (out.notBefore?.getTime() ?? 0) > Date.now();
    const outcome = deferred ? 'deferred' : adjustments.length > 0 ? 'adjusted' : 'approved';
    decisions.inc({ rule: adjustments.at(-1)?.rule ?? 'none', outcome });
  }

  /**
   * The range an OTP is judged and counted in by the pumping screen, unless the screen is off for its tenant
   * or the number is allow-listed.
   */
  private pumpingRange(message: events.SmsMessage, policy: RiskPolicy, tenant: TenantPolicy) {
    const settings = policy.fraud.pumping;
    const mode = tenant.pumping ?? settings?.mode ?? 'off';
    if (!settings || mode === 'off' || message.type !== sms.MessageType.MESSAGE_TYPE_OTP) return undefined;
    if (isAllowListed(tenant.allowList, message.to)) return undefined;
    return {
      prefix: prefixOf(message.to, settings.digits),
      settings,
      mode,
      windowMs: settings.windowSeconds * 1000,
      judgeAfterMs: settings.judgeAfterSeconds * 1000,
    };
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
