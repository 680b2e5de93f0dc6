import { events } from '@tern/contracts';
import { RouteBook } from './route-book';
import { retryVerdict } from './retry-policy';

const policy = { windowMs: 10_000, minOutcomes: 5, failureRatio: 0.5, openMs: 5_000, probes: 2 };

describe('RouteBook', () => {
  it('knows how long each channel’s urgent and bulk submissions wait in the connectors, while fresh', () => {
    const book = new RouteBook(policy);
    expect(book.queueWaitMs('c1', true, 0)).toBe(0);
    book.applyBacklog(new Map([['c1', { urgentMs: 800, bulkMs: 30_000 }]]), 10_000);
    expect(book.queueWaitMs('c1', true, 11_000)).toBe(800);
    expect(book.queueWaitMs('c1', false, 11_000)).toBe(30_000);
    expect(book.queueWaitMs('c2', true, 11_000)).toBe(0);
    // A reading no one refreshed (Redis away) says nothing any more.
    expect(book.queueWaitMs('c1', true, 16_000)).toBe(0);
  });

  it('prefers a carrier weight to the country weight, and the latest record of a route', () => {
    const book = new RouteBook(policy);
    const weight = (over: Partial<events.RoutingWeight>) =>
      book.applyWeight(events.RoutingWeight.fromPartial({ channelId: 'c1', country: 'SG', ...over }));
    weight({ deliveredAlpha: 50, deliveredBeta: 50, latencyP50Ms: 9000 });
    weight({ mccMnc: '52501', deliveredAlpha: 90, deliveredBeta: 10, latencyP50Ms: 2000 });
    expect(book.stats('c1', 'SG', '52501', 0)).toEqual({ alpha: 90, beta: 10, latencyP50Ms: 2000 });
    expect(book.stats('c1', 'SG', '52505', 0)).toEqual({ alpha: 50, beta: 50, latencyP50Ms: 9000 });
    weight({ deliveredAlpha: 80, deliveredBeta: 20, latencyP50Ms: 4000 });
    expect(book.stats('c1', 'SG', '', 0)).toEqual({ alpha: 80, beta: 20, latencyP50Ms: 4000 });
    expect(book.stats('c2', 'SG', '', 0)).toBeUndefined();
  });

  it('sizes receipt windows on the longer of the carrier’s and the country’s p95 latency, while fresh', () => {
    const book = new RouteBook(policy, 30_000);
    const weight = (over: Partial<events.RoutingWeight>) =>
      book.applyWeight(
        events.RoutingWeight.fromPartial({
          channelId: 'c1',
          country: 'SG',
          computedAt: new Date(0),
          ...over,
        }),
      );
    expect(book.latencyP95Ms('c1', 'SG', '52501', 0)).toBe(0);
    weight({ latencyP95Ms: 30_000 });
    // A carrier's tail from a few deliveries, shorter than its country's: the country's.
    weight({ mccMnc: '52501', latencyP95Ms: 18_000 });
    expect(book.latencyP95Ms('c1', 'SG', '52501', 0)).toBe(30_000);
    weight({ mccMnc: '52501', latencyP95Ms: 45_000 });
    expect(book.latencyP95Ms('c1', 'SG', '52501', 0)).toBe(45_000);
    expect(book.latencyP95Ms('c1', 'SG', '52505', 0)).toBe(30_000);
    expect(book.latencyP95Ms('c1', 'SG', '', 0)).toBe(30_000);
    // Stale: none.
    expect(book.latencyP95Ms('c1', 'SG', '52501', 31_000)).toBe(0);
  });

  it('lets a weight analytics stopped refreshing go stale: the carrier’s, then the country’s', () => {
    const book = new RouteBook(policy, 60_000);
    const at = (ms: number) => new Date(Date.parse('2026-11-29T10:00:00Z') + ms);
    const weight = (over: Partial<events.RoutingWeight>) =>
      book.applyWeight(events.RoutingWeight.fromPartial({ channelId: 'c1', country: 'SG', ...over }));
    weight({ deliveredAlpha: 50, deliveredBeta: 50, latencyP50Ms: 9000, computedAt: at(30_000) });
    weight({ mccMnc: '52501', deliveredAlpha: 90, deliveredBeta: 10, latencyP50Ms: 2000, computedAt: at(0) });
    expect(book.stats('c1', 'SG', '52501', at(60_000).getTime())?.alpha).toBe(90);
    // The carrier's figure is 61 s old: the country's, 31 s old, stands in.
    expect(book.stats('c1', 'SG', '52501', at(61_000).getTime())?.alpha).toBe(50);
    expect(book.stats('c1', 'SG', '52501', at(91_000).getTime())).toBeUndefined();
  });

  it('blocks a channel towards one carrier without blocking the channel', () => {
    const book = new RouteBook(policy);
    for (let i = 0; i < 5; i++) book.recordOutcome('c1', '52501', false, i, i);
    // The channel's own breaker saw 5 failures too: both are open.
    expect(book.blocked('c1', '52505', 10)).toBe('breaker open for c1');
    const other = new RouteBook(policy);
    for (let i = 0; i < 10; i++) other.recordOutcome('c1', '52505', true, i, i);
    for (let i = 10; i < 15; i++) other.recordOutcome('c1', '52501', false, i, i);
    // Channel-wide 5 of 15 failed (closed); towards 52501 all failed (open).
    expect(other.blocked('c1', '52505', 20)).toBeUndefined();
    expect(other.blocked('c1', '52501', 20)).toBe('breaker open for c1 towards 52501');
    expect(other.breakerStates(20)).toEqual({ c1: 'closed', 'c1/52501': 'open', 'c1/52505': 'closed' });
  });
});

describe('retryVerdict', () => {
  const now = Date.parse('2026-11-25T12:00:00Z');
  const request = (over: Partial<events.RetryRequest> = {}, expiresInMs = 600_000) =>
    events.RetryRequest.fromPartial({
      message: events.SmsMessage.fromPartial({ messageId: 'm', expiresAt: new Date(now + expiresInMs) }),
      failedAttempt: 1,
      triedChannelIds: ['c1'],
      reason: { code: 'UNREACHABLE', retryable: true },
      ...over,
    });
  const limits = { maxAttempts: 3, minRemainingMs: 30_000 };

  it('routes the next attempt, excluding the channels tried', () => {
    expect(retryVerdict(request(), now, limits)).toEqual({
      retry: true,
      attempt: 2,
      tried: new Set(['c1']),
      failedInDoubt: false,
    });
  });

  it('says when the failed attempt is in doubt (it may have delivered)', () => {
    const inDoubt = request({ reason: { code: 'OUTCOME_UNKNOWN', description: '', retryable: true } });
    expect(retryVerdict(inDoubt, now, limits)).toMatchObject({ retry: true, failedInDoubt: true });
  });

  it('stops when validity runs out, at the attempt cap, or on a permanent failure', () => {
    expect(retryVerdict(request({}, 10_000), now, limits)).toMatchObject({ retry: false, code: 'EXPIRED' });
    expect(retryVerdict(request({ failedAttempt: 3 }), now, limits)).toMatchObject({
      retry: false,
      code: 'MAX_ATTEMPTS',
    });
    expect(
      retryVerdict(request({ reason: { code: 'FILTERED', description: '', retryable: false } }), now, limits),
    ).toMatchObject({ retry: false, code: 'NOT_RETRYABLE' });
  });
});
