import { events, sms } from '@tern/contracts';
import { numberHash, paceClaims, windowClaims } from './claims';
import { phishingSignal } from './content';
import { localHour, nextAllowedTime } from './hours';
import { isOptOutReply, optOutScopes } from './opt-out';
import { riskPolicySchema } from './policy';
import { screenStatic } from './screen';
import { pumpingVerdict } from './pumping';

const policy = riskPolicySchema.parse({
  countries: {
    ID: { alphanumeric: 'registered', marketingOptOutRequired: true },
    US: { alphanumeric: 'none' },
    VN: { alphanumeric: 'registered', marketingHours: { from: 8, to: 21, timeZone: 'Asia/Ho_Chi_Minh' } },
  },
  tenants: {
    shop: {
      registeredSenders: { ID: ['ShopKita'] },
      fallbackSenders: { ID: '+62811000111' },
      otpSenders: ['ShopOTP', 'ShopKita'],
      allowedRiskCategories: ['satellite'],
      allowList: ['4470123'],
    },
  },
  content: { banned: [{ pattern: '\\bcasino\\b', code: 'CONTENT_GAMBLING' }] },
  fraud: {
    highRiskRanges: [
      { prefix: '4470', category: 'personal-numbering' },
      { prefix: '881', category: 'satellite' },
    ],
  },
});
const message = (over: Partial<events.SmsMessage> = {}) =>
  events.SmsMessage.fromPartial({
    messageId: 'm1',
    tenantId: 'shop',
    to: '+6281234567890',
    from: 'ShopKita',
    senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC,
    body: 'Your code is 123456',
    type: sms.MessageType.MESSAGE_TYPE_OTP,
    country: 'ID',
    ...over,
  });
const NOON_UTC = Date.parse('2026-11-25T12:00:00Z');
const codeOf = (m: events.SmsMessage, now = NOON_UTC) => {
  const s = screenStatic(m, policy, now);
  return s.rejected?.code ?? 'PASS';
};

describe('sender ID rules', () => {
  it('passes a registered sender, replaces an unregistered one by the fallback, rejects without one', () => {
    expect(codeOf(message())).toBe('PASS');
    const replaced = screenStatic(message({ from: 'ShopOTP' }), policy, NOON_UTC);
    expect(replaced.rejected).toBeUndefined();
    if (!replaced.rejected) {
      expect(replaced.message.from).toBe('+62811000111');
      expect(replaced.message.senderType).toBe(sms.SenderType.SENDER_TYPE_INTERNATIONAL);
      expect(replaced.adjustments[0]?.text).toMatch(
        /ShopOTP replaced by \+62811000111 \(ShopOTP is not registered for ID\)/,
      );
    }
    expect(codeOf(message({ country: 'VN', to: '+84961234567' }))).toBe('SENDER_NOT_REGISTERED');
    expect(codeOf(message({ country: 'US', to: '+12025550123' }))).toBe('SENDER_NOT_ALLOWED');
    const notice = { type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL, country: 'US', to: '+12025550123' };
    expect(codeOf(message({ ...notice, from: '+12025550100' }))).toBe('PASS');
  });

  it('keeps OTP senders for OTPs', () => {
    expect(codeOf(message({ from: 'Shop', country: 'SG' }))).toBe('SENDER_NOT_FOR_OTP');
    expect(
      codeOf(
        message({
          type: sms.MessageType.MESSAGE_TYPE_MARKETING,
          country: 'SG',
          body: 'Sale! Reply STOP to opt out',
        }),
      ),
    ).toBe('SENDER_RESERVED_FOR_OTP');
  });
});

describe('content rules', () => {
  const rules = policy.content;
  it.each([
    ['Login at http://203.0.113.7/verify', /bare IP/],
    ['Track it: bit.ly/3xYz', /shortener/],
    ['Confirm at https://paypa1.com/login', /imitates paypal/],
    ['Verify on paypal-secure-login.com now', /imitates paypal/],
    ['Go to www.amazom.com/orders', /imitates amazon/],
    ['Account locked: paypal.account-check.net', /imitates paypal/],
    ['Verify at paypa1-secure.com/login', /imitates paypal/],
  ])('flags %s', (body, why) => {
    expect(phishingSignal(body, rules)?.description).toMatch(why);
  });

  it.each([
    ['Pay at https://www.paypal.com/pay'],
    ['Your code is 123456'],
    ['Order 12.5 kg shipped'],
    ['See shop.example.com'],
    ['Apply at apply.jobs.example.com'],
  ])('lets %s through', (body) => expect(phishingSignal(body, rules)).toBeUndefined());

  it('rejects banned patterns and marketing without opt-out text where required', () => {
    expect(codeOf(message({ body: 'Best CASINO bonus' }))).toBe('CONTENT_GAMBLING');
    const marketing = { type: sms.MessageType.MESSAGE_TYPE_MARKETING, from: 'Shop', country: 'SG' as const };
    expect(codeOf(message({ ...marketing, country: 'ID', from: 'ShopOTP', body: '50% off' }))).toBe(
      'SENDER_RESERVED_FOR_OTP',
    );
    expect(
      codeOf(message({ ...marketing, country: 'ID', from: '+62811000111', body: '50% off today' })),
    ).toBe('MISSING_OPT_OUT');
    expect(
      codeOf(
        message({
          ...marketing,
          country: 'ID',
          from: '+62811000111',
          body: '50% off. Reply STOP to opt out',
        }),
      ),
    ).toBe('PASS');
  });
});

describe('high-risk ranges', () => {
  it('blocks a premium or personal range unless the tenant allows its category or the number', () => {
    expect(codeOf(message({ to: '+447012345678', country: 'GB', from: 'ShopOTP' }))).toBe('PASS'); // allow-listed prefix
    expect(codeOf(message({ to: '+447099999999', country: 'GB', from: 'ShopOTP' }))).toBe('HIGH_RISK_RANGE');
    expect(codeOf(message({ to: '+881612345678', country: 'XX', from: 'ShopOTP' }))).toBe('PASS'); // satellite allowed
    expect(codeOf(message({ to: '+447099999999', country: 'GB', from: 'ShopOTP', tenantId: 'other' }))).toBe(
      'HIGH_RISK_RANGE',
    );
  });
});

describe('marketing hours', () => {
  it('defers marketing outside local hours to the next opening, and leaves OTPs alone', () => {
    const night = Date.parse('2026-11-25T16:30:00Z'); // 23:30 in Vietnam (UTC+7)
    const m = message({
      type: sms.MessageType.MESSAGE_TYPE_MARKETING,
      from: '+84900000000',
      country: 'VN',
      to: '+84961234567',
      body: 'Sale',
    });
    const s = screenStatic(m, policy, night);
    expect(s.rejected).toBeUndefined();
    if (!s.rejected) {
      expect(s.message.notBefore?.toISOString()).toBe('2026-11-26T01:00:00.000Z'); // 08:00 local
      expect(s.adjustments[0]?.rule).toBe('hours');
    }
    const otp = screenStatic(
      { ...m, type: sms.MessageType.MESSAGE_TYPE_OTP, from: 'ShopOTP' },
      policy,
      night,
    );
    expect(!otp.rejected && otp.message.notBefore).toBeFalsy();
  });

  it('knows local hours across zones and windows over midnight', () => {
    expect(localHour(Date.parse('2026-11-25T12:00:00Z'), 'Asia/Kolkata')).toBe(17);
    const at = Date.parse('2026-11-25T12:00:00Z'); // 17:30 in India
    expect(nextAllowedTime(at, { from: 22, to: 6, timeZone: 'Asia/Kolkata' })).toBe(
      Date.parse('2026-11-25T16:30:00Z'),
    );
  });
});

describe('opt-out replies', () => {
  it('recognises the standard keywords and finds the tenants of the sender', () => {
    expect(['STOP', 'stop please', 'Unsubscribe', 'STOPALL', ' quit'].every(isOptOutReply)).toBe(true);
    expect(['Stopped by the shop?', 'thanks', 'don’t stop'].some(isOptOutReply)).toBe(false);
    expect(optOutScopes(policy, '+62811000111').sort()).toEqual(['sender:+62811000111', 'tenant:shop']);
  });
});

describe('pumpingVerdict', () => {
  const settings = riskPolicySchema.parse({ fraud: { pumping: { mode: 'enforce' } } }).fraud.pumping!;
  const range = (judged: number, converted: number, tenantReports = true) => ({
    judged,
    converted,
    tenantReports,
  });

  it('refuses a range with plenty of OTPs old enough to be used and almost none used', () => {
    expect(pumpingVerdict(range(40, 1), '2349099', settings, 'enforce')).toMatchObject({
      kind: 'pumped',
      mode: 'enforce',
      description: expect.stringContaining('1 of 40 OTPs to +2349099'),
    });
    expect(pumpingVerdict(range(40, 1), '2349099', settings, 'monitor')).toMatchObject({ mode: 'monitor' });
  });

  it('clears a range whose codes are used, one with too few OTPs to judge, and tenants that report nothing', () => {
    expect(pumpingVerdict(range(40, 30), '2348031', settings, 'enforce')).toEqual({ kind: 'clear' });
    expect(pumpingVerdict(range(19, 0), '2349099', settings, 'enforce')).toEqual({ kind: 'clear' });
    expect(pumpingVerdict(range(400, 0, false), '2349099', settings, 'enforce')).toEqual({ kind: 'clear' });
    expect(pumpingVerdict(range(400, 0), '2349099', settings, 'off')).toEqual({ kind: 'clear' });
  });
});

describe('the shared state a message claims', () => {
  const limited = riskPolicySchema.parse({
    limits: {
      perRecipient: { otp: { count: 5, windowSeconds: 600 }, marketing: { count: 3, windowSeconds: 86400 } },
      perTenant: { perSecond: 100 },
      perPrefix: { digits: 7, perSecond: 20 },
    },
    fraud: {
      otpVelocity: { digits: 8, count: 30, windowSeconds: 60 },
      otpCountryVelocity: { count: 2000, windowSeconds: 60 },
    },
  });

  it('counts an OTP in both velocity screens, then its recipient window, in that order of precedence', () => {
    const claims = windowClaims(message(), limited, []);
    expect(claims.map((c) => [c.key, c.limit, c.windowSeconds, c.refusal.code])).toEqual([
      ['v:shop:62812345', 30, 60, 'PUMPING_SUSPECTED'],
      ['vc:shop:ID', 2000, 60, 'COUNTRY_SURGE'],
      [`r:shop:otp:${numberHash('+6281234567890')}`, 5, 600, 'RECIPIENT_RATE_LIMITED'],
    ]);
    expect(claims[0]!.refusal.description).toBe('more than 30 OTPs to +62812345… within 60 s: held');
    // The recipient appears in a key only as a hash.
    expect(claims.every((c) => !c.key.includes('6281234567890'))).toBe(true);
  });

  it('spares allow-listed numbers the velocity screens, not their recipient window', () => {
    const codes = windowClaims(message(), limited, ['628123']).map((c) => c.refusal.code);
    expect(codes).toEqual(['RECIPIENT_RATE_LIMITED']);
  });

  it('counts other types only in their own recipient window, if the policy has one', () => {
    const marketing = message({ type: sms.MessageType.MESSAGE_TYPE_MARKETING });
    expect(windowClaims(marketing, limited, []).map((c) => [c.key.split(':')[2], c.limit])).toEqual([
      ['marketing', 3],
    ]);
    const transactional = message({ type: sms.MessageType.MESSAGE_TYPE_TRANSACTIONAL });
    expect(windowClaims(transactional, limited, [])).toEqual([]);
  });

  it('paces by tenant and destination prefix as configured', () => {
    expect(paceClaims(message(), limited)).toEqual([
      { key: 't:shop', perSecond: 100 },
      { key: 'np:6281234', perSecond: 20 },
    ]);
    expect(paceClaims(message(), policy)).toEqual([]);
  });
});
