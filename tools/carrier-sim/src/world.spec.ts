import { DataCoding, EsmClass, Status, Ton, type ShortMessageBody } from '@tern/smpp';
import { concatenationUdh, encodeGsm7, encodeUcs2 } from '@tern/sms-domain';
import { drawConversion } from './conversions';
import { Random } from './random';
import { loadScenario, parseDuration, parseScenario, ScenarioError } from './scenario';
import { validateSubmit } from './submit-validation';
import { World } from './world';
import { sms } from '../test/smpp-client';

const sea = new World(loadScenario('sea-ecommerce'));
const peak = new World(loadScenario('mideast-peak'));
const cheap = sea.channel('sea-cheap')!;

describe('scenarios', () => {
  it.each(['tiers', 'sea-ecommerce', 'latam-fintech', 'mideast-peak'])(
    'ships a valid %s scenario',
    (name) => {
      expect(loadScenario(name).name).toBe(name);
    },
  );

  it('explains every problem of a bad file with its path', () => {
    const bad = `
name: broken
countries:
  - { code: sg, dialCode: '65', carriers: [{ id: a, name: A, mccMnc: '5250', prefixes: ['65'] }] }
channels:
  - { id: c1, tier: direct, port: 0, systemId: s, password: p, tps: 10, pricePerSegment: 0.01, countries: [XX],
      default: { deliveryRate: 1.5, latency: { p50: 5s, p95: 1s } } }
timeline:
  - { event: outage, channel: nope, from: 2m, until: 1m }
`;
    let error: unknown;
    try {
      parseScenario(bad, 'bad.yaml');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ScenarioError);
    const message = (error as Error).message;
    expect(message).toContain('invalid scenario bad.yaml');
    expect(message).toContain('countries.0.code: must be ISO 3166-1 alpha-2');
    expect(message).toContain('countries.0.carriers.0.mccMnc: must be MCC+MNC, 5 or 6 digits');
    expect(message).toContain('channels.0.default.deliveryRate');
    expect(message).toContain('channels.0.default.latency: p95 must not be below p50');
  });

  it('reads durations', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('5m')).toBe(300_000);
    expect(() => parseDuration('5 minutes')).toThrow(/not a duration/);
  });
});

describe('World', () => {
  it('finds the carrier by longest prefix and knows ranges that do not exist', () => {
    expect(sea.resolve('628121234567')?.carrier.id).toBe('id-telkomsel');
    expect(sea.resolve('62819912345')).toMatchObject({ carrier: { id: 'id-xl' }, invalid: true });
    expect(sea.resolve('4915112345678')).toBeUndefined();
  });

  it('applies the timeline: outage, congestion and degradation only while they last', () => {
    const direct = peak.channel('me-direct-ae')!;
    const tier1 = peak.channel('me-tier1')!;
    expect(peak.isDown('me-direct-ae', parseDuration('2m'))).toBe(false);
    expect(peak.isDown('me-direct-ae', parseDuration('4m'))).toBe(true);
    expect(peak.isDown('me-direct-ae', parseDuration('6m'))).toBe(false);
    expect(peak.tps(direct, 0)).toBe(30);
    expect(peak.tps(tier1, parseDuration('5m'))).toBe(12);
    const before = peak.model(tier1, 'ae-du', 0);
    const during = peak.model(tier1, 'ae-du', parseDuration('5m'));
    expect(during.latency.p50).toBe(before.latency.p50 * 3);
    expect(during.deliveryRate).toBeCloseTo(before.deliveryRate * 0.95);
  });

  it('applies sender and content rules of the destination carrier', () => {
    const id = sea.resolve('628121234567')!;
    const vn = sea.resolve('84961234567')!;
    const ph = sea.resolve('639171234567')!;
    expect(sea.senderVerdict(id.country, 'ShopKita', 'alphanumeric')).toBe('ok');
    expect(sea.senderVerdict(id.country, 'Unknown', 'alphanumeric')).toBe('overwritten');
    expect(sea.senderVerdict(vn.country, 'Unknown', 'alphanumeric')).toBe('filtered');
    expect(sea.senderVerdict(vn.country, '6591234567', 'numeric')).toBe('ok');
    const random = new Random(7);
    const base = { channel: cheap, sender: 'ShopKita', senderKind: 'alphanumeric' as const, simTime: 0 };
    expect(sea.fate({ ...base, destination: ph, text: 'Track: https://bit.ly/x1' }, random)).toMatchObject({
      stat: 'REJECTD',
      err: '069',
      rule: 'content:url-shortener',
    });
    expect(sea.fate({ ...base, destination: vn, sender: 'Unknown', text: 'hi' }, random)).toMatchObject({
      stat: 'REJECTD',
      err: '068',
      rule: 'sender',
    });
    expect(sea.fate({ ...base, destination: sea.resolve('62819912345')!, text: 'hi' }, random)).toMatchObject(
      { stat: 'UNDELIV', err: '001', rule: 'invalid-range' },
    );
  });

  it('draws fates matching the route model (seeded, so the figures are reproducible)', () => {
    const random = new Random(42);
    const destination = sea.resolve('628121234567')!; // cheap route to Telkomsel: 72%, median 12 s
    const fates = Array.from({ length: 4000 }, () =>
      sea.fate(
        {
          channel: cheap,
          destination,
          sender: 'ShopKita',
          senderKind: 'alphanumeric',
          text: 'x',
          simTime: 0,
        },
        random,
      ),
    );
    const delivered = fates.filter((f) => f.stat === 'DELIVRD');
    expect(delivered.length / fates.length).toBeGreaterThan(0.69);
    expect(delivered.length / fates.length).toBeLessThan(0.75);
    const latencies = delivered.map((f) => f.latencyMs).sort((a, b) => a - b);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeGreaterThan(11_000);
    expect(latencies[Math.floor(latencies.length / 2)]).toBeLessThan(13_000);
    const lost = fates.filter((f) => f.receiptLost).length / fates.length;
    expect(lost).toBeGreaterThan(0.015);
    expect(lost).toBeLessThan(0.045);
  });
});

describe('a route that fakes receipts, and the users who convert', () => {
  const grey = new World(loadScenario('fake-receipts'));
  const scenario = loadScenario('fake-receipts');

  it('reports DELIVRD for most of what it drops, while the truth keeps what happened', () => {
    const random = new Random(7);
    const destination = grey.resolve('2348031234567')!;
    const fates = Array.from({ length: 4000 }, () =>
      grey.fate(
        {
          channel: grey.channel('ng-grey')!,
          destination,
          sender: 'Tern',
          senderKind: 'alphanumeric',
          text: 'x',
          simTime: 0,
        },
        random,
      ),
    );
    const share = (test: (f: (typeof fates)[number]) => boolean) => fates.filter(test).length / fates.length;
    const delivered = share((f) => f.stat === 'DELIVRD');
    expect(delivered).toBeGreaterThan(0.57);
    expect(delivered).toBeLessThan(0.63);
    const reported = share((f) => (f.claimed ?? f).stat === 'DELIVRD');
    expect(reported).toBeGreaterThan(0.98);
    // Only undelivered messages get a lying receipt.
    expect(fates.filter((f) => f.claimed && f.stat === 'DELIVRD')).toEqual([]);
  });

  it('has users convert fewer codes the longer they took to arrive', () => {
    const model = scenario.conversion!;
    const random = new Random(3);
    const rate = (latencyMs: number) =>
      Array.from({ length: 4000 }, () => drawConversion(model, latencyMs, random)).filter(
        (d) => d !== undefined,
      ).length / 4000;
    expect(rate(0)).toBeGreaterThan(0.82);
    expect(rate(0)).toBeLessThan(0.88);
    // Halved after the model's half-life (2 minutes).
    expect(rate(120_000)).toBeGreaterThan(0.4);
    expect(rate(120_000)).toBeLessThan(0.46);
    // A code that arrived at once is always used when the rate is 1, after the user's typing.
    const used = drawConversion({ ...model, rate: 1 }, 0, random);
    expect(used).toBeGreaterThan(0);
  });
});

describe('validateSubmit', () => {
  // The shared test message, sent from a registered sender to an Indonesian number the cheap route reaches.
  const submit = (over: Partial<ShortMessageBody>): ShortMessageBody =>
    sms({ sourceAddr: 'ShopKita', destinationAddr: '628121234567', ...over });
  const status = (over: Partial<ShortMessageBody>) => {
    const v = validateSubmit(submit(over), cheap, sea);
    return v.ok ? 'ok' : v.status;
  };

  it('accepts a well-formed OTP and decodes its text', () => {
    expect(validateSubmit(submit({}), cheap, sea)).toMatchObject({
      ok: true,
      number: '628121234567',
      senderKind: 'alphanumeric',
      text: 'Your code is 123456',
    });
  });

  it.each([
    ['a national destination TON', { destAddrTon: Ton.NATIONAL }, Status.ESME_RINVDSTTON],
    ['a number no carrier owns', { destinationAddr: '4915112345678' }, Status.ESME_RINVDSTADR],
    ['an alphanumeric sender with TON 1', { sourceAddrTon: Ton.INTERNATIONAL }, Status.ESME_RINVSRCTON],
    [
      'a long number with TON 5',
      { sourceAddr: '6591234567', sourceAddrTon: Ton.ALPHANUMERIC },
      Status.ESME_RINVSRCTON,
    ],
    ['a 12-character alphanumeric sender', { sourceAddr: 'ShopKitaMall' }, Status.ESME_RINVSRCADR],
    ['8-bit octets labelled GSM', { shortMessage: Buffer.from([0x41, 0xc3, 0xa9]) }, Status.ESME_RINVDCS],
    [
      'odd-length UCS-2',
      { dataCoding: DataCoding.UCS2, shortMessage: Buffer.from([0x00, 0x41, 0x00]) },
      Status.ESME_RINVDCS,
    ],
    ['an unknown data_coding', { dataCoding: 0xf5 }, Status.ESME_RINVDCS],
    [
      'a broken UDH',
      { esmClass: EsmClass.UDHI, shortMessage: Buffer.from([0x05, 0x00, 0x03]) },
      Status.ESME_RINVESMCLASS,
    ],
    ['161 GSM characters in one part', { shortMessage: encodeGsm7('a'.repeat(161)) }, Status.ESME_RINVMSGLEN],
  ])('refuses %s', (_what, over, expected) => {
    expect(status(over)).toBe(expected);
  });

  it('accepts a numeric sender, UCS-2 text and a concatenated part of 153 characters', () => {
    expect(status({ sourceAddr: '6591234567', sourceAddrTon: Ton.INTERNATIONAL, sourceAddrNpi: 1 })).toBe(
      'ok',
    );
    expect(status({ dataCoding: DataCoding.UCS2, shortMessage: encodeUcs2('Kode Anda: 123456 ✓') })).toBe(
      'ok',
    );
    const part = Buffer.concat([concatenationUdh(7, 2, 1), encodeGsm7('a'.repeat(153))]);
    expect(validateSubmit(submit({ esmClass: EsmClass.UDHI, shortMessage: part }), cheap, sea)).toMatchObject(
      { ok: true, concatenation: { reference: 7, total: 2, sequence: 1 } },
    );
    expect(
      status({
        esmClass: EsmClass.UDHI,
        shortMessage: Buffer.concat([concatenationUdh(7, 2, 1), encodeGsm7('a'.repeat(154))]),
      }),
    ).toBe(Status.ESME_RINVMSGLEN);
  });
});
