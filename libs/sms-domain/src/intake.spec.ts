import { planBody } from './body';
import { callbackAddressAllowed, checkCallbackUrl } from './callback-url';
import { NumberRanges, parseRecipient } from './recipient';
import { checkSender } from './sender';

describe('planBody', () => {
  const plan = (body: string) => {
    const result = planBody(body, 10);
    if (!result.ok) throw new Error(result.description);
    return result.plan;
  };

  it.each([
    ['a'.repeat(160), 'GSM7', 1, 160],
    ['a'.repeat(161), 'GSM7', 2, 161],
    ['a'.repeat(306), 'GSM7', 2, 306],
    ['a'.repeat(307), 'GSM7', 3, 307],
    ['я'.repeat(70), 'UCS2', 1, 70],
    ['я'.repeat(71), 'UCS2', 2, 71],
    ['я'.repeat(134), 'UCS2', 2, 134],
    ['я'.repeat(135), 'UCS2', 3, 135],
  ])('%#: boundaries at 160/161 and 70/71 (%s chars)', (body, encoding, segments, units) => {
    expect(plan(body)).toEqual({ encoding, segments, units });
  });

  it('counts GSM extension characters double', () => {
    expect(plan('€'.repeat(80))).toEqual({ encoding: 'GSM7', segments: 1, units: 160 });
    expect(plan(`${'€'.repeat(80)}a`)).toEqual({ encoding: 'GSM7', segments: 2, units: 161 });
    expect(plan('{}[]~|^\\')).toMatchObject({ units: 16 });
  });

  it('lets one emoji force UCS-2 and counts it as a surrogate pair', () => {
    expect(plan(`Your code is 123456 ${'x'.repeat(40)}`).encoding).toBe('GSM7');
    expect(plan(`Your code is 123456 🔐`)).toEqual({ encoding: 'UCS2', segments: 1, units: 22 });
    expect(plan('🔐'.repeat(35))).toEqual({ encoding: 'UCS2', segments: 1, units: 70 });
    // 36 emoji are 72 units: two parts of at most 67 units, none splitting a pair.
    expect(plan('🔐'.repeat(36))).toEqual({ encoding: 'UCS2', segments: 2, units: 72 });
  });

  it('refuses empty, broken and oversized bodies, saying why', () => {
    expect(planBody('', 10)).toEqual({ ok: false, code: 'INVALID_BODY', description: 'is empty' });
    expect(planBody('bad \ud83d half', 10)).toMatchObject({
      ok: false,
      description: expect.stringContaining('surrogate'),
    });
    expect(planBody('a'.repeat(153 * 3 + 1), 3)).toEqual({
      ok: false,
      code: 'INVALID_BODY',
      description: 'needs 4 SMS (GSM 7-bit: 160 in one, 153 per part); at most 3 allowed',
    });
  });
});

describe('parseRecipient', () => {
  const ranges = new NumberRanges([
    { prefix: '6281', mccMnc: '51010', name: 'Telkomsel' },
    { prefix: '62812', mccMnc: '51010', name: 'Telkomsel (Simpati)' },
    { prefix: '44', mccMnc: '23410', name: 'fallback' },
  ]);

  it('normalises E.164 and enriches country, type and carrier (longest prefix)', () => {
    expect(parseRecipient('+62 812-3456-7890', ranges)).toEqual({
      ok: true,
      recipient: {
        e164: '+6281234567890',
        country: 'ID',
        numberType: 'mobile',
        carrier: { prefix: '62812', mccMnc: '51010', name: 'Telkomsel (Simpati)' },
      },
    });
    expect(parseRecipient('+447400123456')).toMatchObject({
      ok: true,
      recipient: { country: 'GB', numberType: 'mobile', carrier: undefined },
    });
    // The US plan does not tell mobile from fixed lines.
    expect(parseRecipient('+12015550123')).toMatchObject({
      ok: true,
      recipient: { numberType: 'fixed-or-mobile' },
    });
  });

  it.each([
    ['08123456789', 'NOT_E164'],
    ['+0123456789', 'NOT_E164'],
    ['+44 79', 'NOT_E164'],
    ['+999123456789', 'INVALID_NUMBER'],
    ['+44791112345678', 'INVALID_NUMBER'],
    ['+442071234567', 'NOT_MOBILE'],
    ['+449098790000', 'NOT_MOBILE'],
  ])('refuses %s with %s', (to, code) => {
    expect(parseRecipient(to)).toMatchObject({ ok: false, error: { code } });
  });
});

describe('checkSender', () => {
  it.each([
    ['Tern', 'alphanumeric'],
    ['ACME Bank', 'alphanumeric'],
    ['Shop.co-1', 'alphanumeric'],
    ['12345', 'shortcode'],
    ['+6281234567890', 'international'],
  ])('%s is %s', (sender, kind) => {
    expect(checkSender(sender)).toEqual({ ok: true, kind, sender });
  });

  it.each(['', 'AB', 'TwelveLetter', 'Bad!Name', '123456789', '+12', ' -Lead', '1234-56'])(
    'refuses "%s"',
    (sender) => {
      expect(checkSender(sender)).toMatchObject({ ok: false, code: 'INVALID_SENDER' });
    },
  );
});

describe('checkCallbackUrl', () => {
  const publicOnly = { allowPrivate: false };
  it('accepts public http(s) targets', () => {
    expect(checkCallbackUrl('https://hooks.example.com/tern?x=1', publicOnly)).toEqual({
      ok: true,
      url: 'https://hooks.example.com/tern?x=1',
    });
    expect(checkCallbackUrl('http://93.184.216.34/cb', publicOnly).ok).toBe(true);
  });

  it.each([
    ['ftp://example.com/x', 'scheme "ftp"'],
    ['not a url', 'not a URL'],
    ['https://user:pw@example.com/', 'credentials'],
    ['http://127.0.0.1:8080/', 'loopback'],
    ['http://[::1]/', 'loopback'],
    ['http://10.1.2.3/', 'private'],
    ['http://169.254.169.254/latest/meta-data', 'linkLocal'],
    ['http://[::ffff:192.168.1.1]/', 'private'],
    ['http://localhost:3000/', 'not a public name'],
    ['http://metadata.internal/', 'not a public name'],
    ['http://intranet/', 'not a public name'],
  ])('refuses %s (%s)', (url, why) => {
    const result = checkCallbackUrl(url, publicOnly);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.description).toContain(why);
  });

  it('allows private targets where the deployment says so (local runs, tests)', () => {
    const local = { allowPrivate: true };
    expect(checkCallbackUrl('http://127.0.0.1:8080/cb', local).ok).toBe(true);
    expect(checkCallbackUrl('http://10.1.2.3/cb', local).ok).toBe(true);
    expect(checkCallbackUrl('http://localhost:3000/cb', local).ok).toBe(true);
  });

  it.each([
    ['http://169.254.169.254/latest/meta-data', 'linkLocal'],
    ['http://[fe80::1]/', 'linkLocal'],
    ['http://[::ffff:169.254.169.254]/', 'linkLocal'],
    ['http://[fd00:ec2::254]/latest/meta-data', 'uniqueLocal'],
    ['http://100.100.100.200/latest/meta-data', 'carrierGradeNat'],
    ['http://metadata.google.internal/computeMetadata/v1/', 'metadata'],
    ['http://0.0.0.0/', 'unspecified'],
  ])('never allows %s, even with private targets allowed', (url, why) => {
    const result = checkCallbackUrl(url, { allowPrivate: true });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.description).toContain(why);
  });

  it('checks resolved addresses by the same policy', () => {
    expect(callbackAddressAllowed('93.184.216.34', { allowPrivate: false })).toBe(true);
    expect(callbackAddressAllowed('192.168.1.10', { allowPrivate: false })).toBe(false);
    expect(callbackAddressAllowed('192.168.1.10', { allowPrivate: true })).toBe(true);
    expect(callbackAddressAllowed('169.254.169.254', { allowPrivate: true })).toBe(false);
    expect(callbackAddressAllowed('fd00:ec2::254', { allowPrivate: true })).toBe(false);
  });
});
