import {
  conversionEvidence,
  deliveryRate,
  routeWeights,
  type ConversionMinute,
  type RouteMinute,
} from './route-weights';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const policy = {
  halfLifeMs: 180_000,
  minCarrierAttempts: 50,
  carrierPriorStrength: 10,
  latencyReferenceMs: 10_000,
};

/** `n` minutes of a channel's figures ending now, `delivered` and `failed` per minute, to one carrier. */
function minutes(
  channelId: string,
  n: number,
  delivered: number,
  failed: number,
  endsMinutesAgo = 0,
  mccMnc = '52501',
): RouteMinute[] {
  return Array.from({ length: n }, (_, i) => ({
    minute: NOW - (i + 1 + endsMinutesAgo) * 60_000,
    country: 'SG',
    mccMnc,
    channelId,
    tier: 'direct',
    attempts: delivered + failed,
    delivered,
    failed,
    cost: (delivered + failed) * 0.04,
  }));
}
const rateOf = (ws: ReturnType<typeof routeWeights>, channelId: string, mccMnc = '') =>
  deliveryRate(ws.find((w) => w.channelId === channelId && w.mccMnc === mccMnc)!);

describe('routeWeights', () => {
  it('moves weight away from a channel after under 100 recent failures, despite a long good history', () => {
    const history = [...minutes('steady', 30, 50, 1), ...minutes('degrading', 30, 50, 1, 1)];
    const failing = [...history, ...minutes('degrading', 1, 0, 90)];
    const ws = routeWeights(failing, [], NOW, policy);
    expect(rateOf(ws, 'steady')).toBeGreaterThan(0.95);
    expect(rateOf(ws, 'degrading')).toBeLessThan(0.8);
  });

  it('lets a channel that failed half an hour ago drift back towards its tier’s prior', () => {
    const ws = routeWeights(minutes('recovered', 1, 0, 90, 30), [], NOW, policy);
    expect(rateOf(ws, 'recovered')).toBeGreaterThan(0.85);
  });

  it('keeps thin evidence from swinging a route: three failures leave a direct route likely', () => {
    const ws = routeWeights(minutes('thin', 1, 0, 3), [], NOW, policy);
    expect(rateOf(ws, 'thin')).toBeGreaterThan(0.7);
  });

  it('weighs every carrier of a route, and prices per delivered message', () => {
    const ws = routeWeights([...minutes('busy', 10, 9, 1), ...minutes('quiet', 1, 2, 0)], [], NOW, policy);
    expect(ws.map((w) => `${w.channelId}/${w.mccMnc}`).sort()).toEqual([
      'busy/',
      'busy/52501',
      'quiet/',
      'quiet/52501',
    ]);
    const busy = ws.find((w) => w.channelId === 'busy' && !w.mccMnc)!;
    expect(busy.attempts).toBe(100);
    // Every attempt costs 0.04, 9 in 10 are delivered: 0.0444 per delivered message (decay cancels out).
    expect(busy.costPerDelivered).toBeCloseTo(0.04 / 0.9, 5);
  });

  it('takes latency from the figures, weighed against the tier’s as ten deliveries, else the tier’s', () => {
    const latencies = [{ country: 'SG', mccMnc: '', channelId: 'busy', p50Ms: 2100, p95Ms: 4400 }];
    const ws = routeWeights(
      [...minutes('busy', 1, 60, 0), ...minutes('quiet', 1, 2, 0)],
      latencies,
      NOW,
      policy,
    );
    // A direct route's prior: 3 s (p95 6 s), worth 10 deliveries against the route's 60.
    const busy = ws.find((w) => w.channelId === 'busy' && !w.mccMnc)!;
    expect(busy.latencyP50Ms).toBeCloseTo((10 * 3000 + 60 * 2100) / 70, 6);
    expect(busy.latencyP95Ms).toBeCloseTo((10 * 6000 + 60 * 4400) / 70, 6);
    expect(ws.find((w) => w.channelId === 'quiet')).toMatchObject({ latencyP50Ms: 3000 });
  });

  it('keeps a slow route slow when its first receipt is a fast one', () => {
    // An aggregator (prior 8 s) whose first delivery took 2.7 s: its fast tail, not its speed.
    const first = minutes('slow', 1, 1, 0).map((m) => ({ ...m, tier: 'aggregator' }));
    const latency = (p50Ms: number) => [
      { country: 'SG', mccMnc: '', channelId: 'slow', p50Ms, p95Ms: p50Ms },
    ];
    const p50 = (ms: RouteMinute[], p50Ms: number) =>
      routeWeights(ms, latency(p50Ms), NOW, policy).find((w) => !w.mccMnc)!.latencyP50Ms;
    expect(p50(first, 2700)).toBeGreaterThan(7000);
    // Its own figures win as they grow: 200 deliveries at 15 s.
    const many = minutes('slow', 1, 200, 0).map((m) => ({ ...m, tier: 'aggregator' }));
    expect(p50(many, 15_000)).toBeGreaterThan(14_000);
  });

  it('states the tier’s latency on the world’s clock', () => {
    const fast = { ...policy, latencyReferenceMs: 1000 };
    const ws = routeWeights(minutes('quiet', 1, 0, 2), [], NOW, fast);
    // A direct route's 3 s, on a clock ten times faster.
    expect(ws.find((w) => !w.mccMnc)).toMatchObject({ latencyP50Ms: 300, latencyP95Ms: 600 });
  });

  it('tells apart a carrier its channel serves badly from its first attempts, well before it is busy', () => {
    // An aggregator that serves Singtel well for ten minutes; its last 2 minutes' 15 attempts to StarHub
    // all failed, and 3 to M1 did.
    const figures = [
      ...minutes('aggregator', 10, 40, 1),
      ...minutes('aggregator', 2, 0, 8, 0, '52505'),
      ...minutes('aggregator', 1, 0, 3, 0, '52503'),
    ];
    const latencies = [
      { country: 'SG', mccMnc: '', channelId: 'aggregator', p50Ms: 3000, p95Ms: 6000 },
      { country: 'SG', mccMnc: '52501', channelId: 'aggregator', p50Ms: 3000, p95Ms: 6000 },
    ];
    const ws = routeWeights(figures, latencies, NOW, policy);
    expect(rateOf(ws, 'aggregator')).toBeGreaterThan(0.85);
    expect(rateOf(ws, 'aggregator', '52501')).toBeGreaterThan(0.95);
    expect(rateOf(ws, 'aggregator', '52505')).toBeLessThan(0.4);
    // Three failures are a warning, not a verdict: M1 stays well above StarHub.
    expect(rateOf(ws, 'aggregator', '52503')).toBeGreaterThan(0.6);
    expect(rateOf(ws, 'aggregator', '52503')).toBeLessThan(rateOf(ws, 'aggregator'));
    // With nothing delivered of its own, a thin carrier takes its route's latency.
    expect(ws.find((w) => w.mccMnc === '52505')).toMatchObject({ latencyP50Ms: 3000, latencyP95Ms: 6000 });
  });

  it('judges each carrier on its own attempts as soon as they say something, pooled toward its country', () => {
    // One channel, three carriers of a country: two served well, one badly, 20 attempts each in 2 minutes.
    const carrier = (mccMnc: string, delivered: number, failed: number) =>
      minutes('agg', 2, delivered, failed).map((m) => ({ ...m, mccMnc, tier: 'aggregator' }));
    const figures = [...carrier('52501', 10, 0), ...carrier('52505', 9, 1), ...carrier('52503', 3, 7)];
    const ws = routeWeights(figures, [], NOW, policy);
    expect(ws.map((w) => w.mccMnc)).toEqual(['', '52501', '52503', '52505']);
    const country = rateOf(ws, 'agg');
    expect(country).toBeGreaterThan(0.7);
    expect(country).toBeLessThan(0.8);
    expect(rateOf(ws, 'agg', '52501')).toBeGreaterThan(0.9);
    expect(rateOf(ws, 'agg', '52505')).toBeGreaterThan(0.83);
    expect(rateOf(ws, 'agg', '52503')).toBeLessThan(0.5);
    // A carrier with three attempts stays near its country: one failure is no verdict.
    const thin = routeWeights(
      [
        ...carrier('52501', 10, 0),
        ...carrier('52505', 10, 0),
        ...minutes('agg', 1, 2, 1).map((m) => ({ ...m, mccMnc: '52503', tier: 'aggregator' })),
      ],
      [],
      NOW,
      policy,
    );
    expect(rateOf(thin, 'agg', '52503')).toBeGreaterThan(0.8);
  });

  it('pools the carriers of a route that serves them alike: one failure in four barely moves one', () => {
    const figures = [
      ...minutes('aggregator', 10, 40, 1),
      ...minutes('aggregator', 10, 20, 1, 0, '52505'),
      ...minutes('aggregator', 1, 3, 1, 0, '52503'),
    ];
    const ws = routeWeights(figures, [], NOW, policy);
    expect(rateOf(ws, 'aggregator', '52503')).toBeGreaterThan(0.9);
  });

  it('never believes a thin carrier’s route more than the route’s own weight does', () => {
    // A new route with 4 attempts: its weight is worth its tier's 10 plus those 4, and so is its carrier's.
    const ws = routeWeights(minutes('new', 1, 4, 0), [], NOW, policy);
    const worth = (w: (typeof ws)[number]) => w.deliveredAlpha + w.deliveredBeta;
    const route = ws.find((w) => !w.mccMnc)!;
    const carrier = ws.find((w) => w.mccMnc === '52501')!;
    expect(worth(route)).toBeCloseTo(14);
    expect(worth(carrier)).toBeCloseTo(worth(route) + 4);
  });

  it('lets a thin carrier’s weight drift back with its route’s, as their failures age', () => {
    // The whole channel failed 30 minutes ago; since then nothing was sent to it.
    const figures = [...minutes('recovered', 1, 0, 90, 30), ...minutes('recovered', 1, 0, 20, 30, '52505')];
    const ws = routeWeights(figures, [], NOW, policy);
    expect(rateOf(ws, 'recovered', '52505')).toBeGreaterThan(0.85);
  });
});

/** One minute of a route's delivered OTPs to one carrier and their conversions, each used 20 s after acceptance. */
const converting = (
  channelId: string,
  delivered: number,
  converted: number,
  country = 'SG',
  mccMnc = '52501',
): ConversionMinute => ({
  minute: NOW - 2 * 60_000,
  country,
  mccMnc,
  channelId,
  delivered,
  converted,
  timeToUseMs: converted * 20_000,
});
const judgedOf = (evidence: ReturnType<typeof conversionEvidence>, channelId: string, mccMnc = '') =>
  evidence.find((e) => e.channelId === channelId && e.mccMnc === mccMnc);
const confirmedOf = (evidence: ReturnType<typeof conversionEvidence>, channelId: string, mccMnc = '') =>
  judgedOf(evidence, channelId, mccMnc)?.confirmed;

describe('conversionEvidence', () => {
  it('confirms an honest route’s receipts and discounts those a route fakes, against the country’s best', () => {
    // 85% of really delivered codes are used; the faking route delivers 60% of what it calls delivered.
    const evidence = conversionEvidence(
      [converting('honest', 400, 340), converting('faking', 400, 204)],
      NOW,
      180_000,
    );
    expect(confirmedOf(evidence, 'honest')).toBe(1);
    expect(confirmedOf(evidence, 'faking')).toBeGreaterThan(0.6);
    expect(confirmedOf(evidence, 'faking')).toBeLessThan(0.65);
  });

  it('lets thin evidence barely move a route: one unused code of three is no proof of fake receipts', () => {
    const evidence = conversionEvidence(
      [converting('honest', 400, 340), converting('new', 3, 2)],
      NOW,
      180_000,
    );
    expect(confirmedOf(evidence, 'new')).toBeGreaterThan(0.95);
  });

  it('judges a country with one route against the best route elsewhere, and never below the expected rate', () => {
    const elsewhere = conversionEvidence(
      [converting('honest', 400, 340, 'MY'), converting('only', 400, 170, 'TH')],
      NOW,
      180_000,
    );
    expect(confirmedOf(elsewhere, 'only')).toBeLessThan(0.55);
    // Alone in the world: a route whose delivered codes are used half the time is not believed in full
    // (70% is expected of real deliveries); one whose codes are used 85% of the time is.
    expect(
      confirmedOf(conversionEvidence([converting('alone', 400, 200)], NOW, 180_000), 'alone'),
    ).toBeLessThan(0.75);
    expect(confirmedOf(conversionEvidence([converting('alone', 400, 340)], NOW, 180_000), 'alone')).toBe(1);
  });

  it('keeps judging a faking route when a route new to the country has its first few conversions', () => {
    // Traffic has just moved to the honest route: its first 28 mature OTPs (failovers among them, used
    // less) converted 15 times. Taken as they are, they would set the bar at 54% and confirm 95% of the
    // faking route's receipts, sending the traffic back to it.
    const firstFew = conversionEvidence(
      [converting('faking', 320, 162), converting('honest', 28, 15)],
      NOW,
      180_000,
    );
    expect(confirmedOf(firstFew, 'faking')).toBeLessThan(0.8);
    const later = conversionEvidence(
      [converting('faking', 320, 162), converting('honest', 200, 160)],
      NOW,
      180_000,
    );
    expect(confirmedOf(later, 'faking')).toBeLessThan(0.7);
    expect(confirmedOf(later, 'honest')).toBe(1);
  });

  it('judges each carrier of a route by its own conversions, pooled toward the route’s while they are few', () => {
    // The aggregator's OTPs to one carrier are used far less than to the other: its receipts to that
    // carrier are the likely fakes. A third carrier with three OTPs is judged like the route.
    const evidence = conversionEvidence(
      [
        converting('honest', 400, 340),
        converting('aggregator', 300, 255, 'SG', '52501'),
        converting('aggregator', 300, 90, 'SG', '52505'),
        converting('aggregator', 3, 1, 'SG', '52503'),
      ],
      NOW,
      180_000,
    );
    expect(confirmedOf(evidence, 'aggregator', '52501')).toBeGreaterThan(0.95);
    expect(confirmedOf(evidence, 'aggregator', '52505')).toBeLessThan(0.4);
    // The route's figures are its carriers' together.
    const route = judgedOf(evidence, 'aggregator')!;
    const carriers = evidence.filter((e) => e.channelId === 'aggregator' && e.mccMnc);
    expect(route.delivered).toBeCloseTo(carriers.reduce((sum, c) => sum + c.delivered, 0));
    expect(judgedOf(evidence, 'aggregator', '52503')!.rate).toBeCloseTo(route.rate, 1);
  });

  it('gives the mean time from acceptance to use of a route’s used OTPs', () => {
    const evidence = conversionEvidence(
      [
        converting('honest', 400, 300),
        { ...converting('honest', 100, 100, 'SG', '52505'), timeToUseMs: 100 * 60_000 },
        converting('silent', 50, 0),
      ],
      NOW,
      180_000,
    );
    expect(judgedOf(evidence, 'honest')!.timeToUseMeanMs).toBeCloseTo(30_000);
    expect(judgedOf(evidence, 'honest', '52505')!.timeToUseMeanMs).toBeCloseTo(60_000);
    expect(judgedOf(evidence, 'silent')!.timeToUseMeanMs).toBe(0);
  });

  it('turns unconfirmed receipts into failures in the weights, for the country and its carriers', () => {
    const route = (channelId: string) =>
      Array.from({ length: 10 }, (_, i) => ({
        ...minutes(channelId, 1, 99, 1)[0]!,
        minute: NOW - (i + 1) * 60_000,
      }));
    const figures = [...route('honest'), ...route('faking')];
    const evidence = conversionEvidence(
      [converting('honest', 400, 340), converting('faking', 400, 204)],
      NOW,
      180_000,
    );
    const ws = routeWeights(figures, [], NOW, { ...policy, minCarrierAttempts: 1 }, evidence);
    expect(rateOf(ws, 'honest')).toBeGreaterThan(0.95);
    expect(rateOf(ws, 'faking')).toBeLessThan(0.66);
    expect(rateOf(ws, 'faking', '52501')).toBeLessThan(0.66);
    // Without conversions both look alike.
    const receiptsOnly = routeWeights(figures, [], NOW, policy);
    expect(rateOf(receiptsOnly, 'faking')).toBeGreaterThan(0.95);
  });
});
