import { buildChannelReport, type RouteFigures } from './channel-report';
import { renderReportHtml } from './report-html';
import { conversionEvidence, type ConversionMinute } from './route-weights';

const route = (over: Partial<RouteFigures>): RouteFigures => ({
  country: 'ID',
  mccMnc: '51010',
  channelId: 'c',
  tier: 'direct',
  attempts: 100,
  delivered: 97,
  filtered: 0,
  latencyP50Ms: 2000,
  latencyP95Ms: 4000,
  cost: 3.4,
  ...over,
});
const NOW = new Date('2026-11-28T11:00:01Z');
const report = (routes: RouteFigures[], conversions?: ConversionMinute[]) =>
  buildChannelReport({
    from: new Date('2026-11-28T10:00:00Z'),
    to: new Date('2026-11-28T11:00:00Z'),
    now: NOW,
    routes,
    routing: [],
    // As the report job reads them: over the whole range, undecayed.
    conversions: conversions && conversionEvidence(conversions, NOW.getTime(), Infinity),
  });

describe('channel report', () => {
  it('folds carriers into channels and judges each against its tier’s range', () => {
    const r = report([
      route({ channelId: 'id-direct', mccMnc: '51010', attempts: 100, delivered: 98, latencyP50Ms: 2000 }),
      route({ channelId: 'id-direct', mccMnc: '51001', attempts: 100, delivered: 96, latencyP50Ms: 3000 }),
      route({
        channelId: 'id-grey',
        tier: 'indirect',
        attempts: 200,
        delivered: 120,
        latencyP50Ms: 40_000,
        cost: 2,
      }),
    ]);
    const direct = r.channels.find((c) => c.channelId === 'id-direct')!;
    expect(direct).toMatchObject({
      attempts: 200,
      delivered: 194,
      deliveryVerdict: 'within',
      latencyVerdict: 'within',
    });
    expect(direct.latencyP50Ms).toBeCloseTo((2000 * 98 + 3000 * 96) / 194, 6); // delivery-weighted
    const grey = r.channels.find((c) => c.channelId === 'id-grey')!;
    expect(grey).toMatchObject({ deliveryVerdict: 'below', latencyVerdict: 'below' });
    expect(grey.costPerDelivered).toBeCloseTo(2 / 120, 6);
    expect(r.carriers).toHaveLength(3);
    expect(r.totals).toMatchObject({ attempts: 400, delivered: 314 });
    expect(r.recommendations.map((x) => `${x.kind} ${x.channelId ?? x.country}`)).toEqual([
      'drop-channel id-grey',
    ]);
  });

  it('asks for a direct route where a country does badly without one, and for sender registration when filtered', () => {
    const r = report([
      route({
        country: 'VN',
        channelId: 'vn-agg',
        tier: 'aggregator',
        attempts: 100,
        delivered: 88,
        filtered: 9,
      }),
    ]);
    expect(r.recommendations.map((x) => x.kind).sort()).toEqual(['needs-direct-route', 'register-sender-id']);
  });

  it('judges nothing on thin data', () => {
    const r = report([route({ attempts: 5, delivered: 1 })]);
    expect(r.channels[0]?.deliveryVerdict).toBe('unknown');
    expect(r.recommendations).toEqual([]);
  });

  it('escapes what the data says in the HTML', () => {
    const html = renderReportHtml(report([route({ channelId: '<script>alert(1)</script>' })]));
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;');
  });

  /** One minute of a Nigerian route's OTPs to one carrier, each used 15 s after acceptance. */
  const conversionMinute = (channelId: string, mccMnc: string, delivered: number, converted: number) => ({
    minute: Date.parse('2026-11-28T10:30:00Z'),
    country: 'NG',
    mccMnc,
    channelId,
    delivered,
    converted,
    timeToUseMs: converted * 15_000,
  });

  it('flags a channel whose receipts its OTPs’ conversions do not bear out, and shows the gap', () => {
    const r = report(
      [
        route({ country: 'NG', channelId: 'ng-direct', attempts: 124, delivered: 120 }),
        route({ country: 'NG', channelId: 'ng-grey', tier: 'aggregator', attempts: 404, delivered: 400 }),
      ],
      [conversionMinute('ng-direct', '62130', 120, 102), conversionMinute('ng-grey', '62130', 400, 206)],
    );
    expect(r.recommendations).toEqual([
      expect.objectContaining({ kind: 'fake-receipts', country: 'NG', channelId: 'ng-grey' }),
    ]);
    expect(r.recommendations[0]!.why).toContain(
      '51.5% of the OTPs it called delivered were used, against 85.0%',
    );
    const grey = r.channels.find((c) => c.channelId === 'ng-grey')!;
    expect(grey.conversion?.confirmed).toBeLessThan(0.63);
    expect(renderReportHtml(r)).toContain('51.5% (');
  });

  it('flags a channel that fakes receipts towards one carrier only, with each carrier’s time to use', () => {
    const r = report(
      [
        route({ country: 'NG', mccMnc: '62130', channelId: 'ng-direct', attempts: 204, delivered: 200 }),
        ...['62130', '62120'].map((mccMnc) =>
          route({
            country: 'NG',
            mccMnc,
            channelId: 'ng-aggregator',
            tier: 'aggregator',
            attempts: 304,
            delivered: 300,
          }),
        ),
        route({
          country: 'NG',
          mccMnc: '62150',
          channelId: 'ng-aggregator',
          tier: 'aggregator',
          attempts: 121,
          delivered: 120,
        }),
      ],
      [
        conversionMinute('ng-direct', '62130', 200, 170),
        conversionMinute('ng-aggregator', '62130', 300, 255),
        conversionMinute('ng-aggregator', '62120', 300, 255),
        conversionMinute('ng-aggregator', '62150', 120, 40),
      ],
    );
    // The aggregator's channel line is 76% used against 85%: not flagged; its receipts to 62150 are.
    expect(r.recommendations).toEqual([
      expect.objectContaining({ kind: 'fake-receipts', country: 'NG', channelId: 'ng-aggregator' }),
    ]);
    expect(r.recommendations[0]!.why).toContain("to NG's carrier 62150, but 33.3% of the OTPs");
    const carrier = r.carriers.find((c) => c.mccMnc === '62150')!;
    expect(carrier.conversion?.confirmed).toBeLessThan(0.6);
    expect(carrier.conversion?.timeToUseMeanMs).toBe(15_000);
    expect(renderReportHtml(r)).toContain('<td>15.0 s</td>');
  });

  it('lists the ranges refused as pumping, or that monitor mode would have refused, most first', () => {
    const r = buildChannelReport({
      from: new Date('2026-11-28T10:00:00Z'),
      to: new Date('2026-11-28T11:00:00Z'),
      now: new Date('2026-11-28T11:00:01Z'),
      routes: [],
      routing: [],
      pumping: [
        { tenantId: 'shop', range: '2348139', refused: 12, wouldRefuse: 0 },
        { tenantId: 'shop', range: '2349099', refused: 480, wouldRefuse: 0 },
        { tenantId: 'demo', range: '2349099', refused: 0, wouldRefuse: 300 },
      ],
    });
    expect(r.pumping.map((b) => `${b.tenantId} ${b.range}`)).toEqual([
      'shop 2349099',
      'demo 2349099',
      'shop 2348139',
    ]);
    const html = renderReportHtml(r);
    expect(html).toContain('<td class="text">shop</td><td class="text">+2349099…</td><td>480</td><td>0</td>');
    expect(html).toContain('<td class="text">demo</td><td class="text">+2349099…</td><td>0</td><td>300</td>');
  });
});
