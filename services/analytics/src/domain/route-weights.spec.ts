import { deliveryRate, routeWeights, type RouteMinute } from './route-weights';

const NOW = Date.parse('2026-11-28T12:00:00Z');
const policy = { halfLifeMs: 180_000, minCarrierAttempts: 50 };

/** `n` minutes of a channel's figures ending now, `delivered` and `failed` per minute. */
function minutes(
  channelId: string,
  n: number,
  delivered: number,
  failed: number,
  endsMinutesAgo = 0,
): RouteMinute[] {
  return Array.from({ length: n }, (_, i) => ({
    minute: NOW - (i + 1 + endsMinutesAgo) * 60_000,
    country: 'SG',
    mccMnc: '52501',
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

  it('gives a carrier weights of its own only with enough attempts, and prices per delivered message', () => {
    const ws = routeWeights([...minutes('busy', 10, 9, 1), ...minutes('quiet', 1, 2, 0)], [], NOW, policy);
    expect(ws.map((w) => `${w.channelId}/${w.mccMnc}`).sort()).toEqual(['busy/', 'busy/52501', 'quiet/']);
    const busy = ws.find((w) => w.channelId === 'busy' && !w.mccMnc)!;
    expect(busy.attempts).toBe(100);
    // Every attempt costs 0.04, 9 in 10 are delivered: 0.0444 per delivered message (decay cancels out).
    expect(busy.costPerDelivered).toBeCloseTo(0.04 / 0.9, 5);
  });

  it('takes latency from the figures, else the tier’s', () => {
    const latencies = [{ country: 'SG', mccMnc: '', channelId: 'busy', p50Ms: 2100, p95Ms: 4400 }];
    const ws = routeWeights(
      [...minutes('busy', 1, 60, 0), ...minutes('quiet', 1, 2, 0)],
      latencies,
      NOW,
      policy,
    );
    expect(ws.find((w) => w.channelId === 'busy' && !w.mccMnc)).toMatchObject({
      latencyP50Ms: 2100,
      latencyP95Ms: 4400,
    });
    expect(ws.find((w) => w.channelId === 'quiet')).toMatchObject({ latencyP50Ms: 3000 });
  });
});
