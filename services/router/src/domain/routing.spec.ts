import { sms } from '@tern/contracts';
import { LATENCY_REFERENCE_MS } from '@tern/sms-domain';
import { CircuitBreaker, type BreakerPolicy } from './circuit-breaker';
import { laneOf, receiptWindowMs, routingTableSchema, type RoutingTable } from './routing-table';
import { selectChannel, type RouteStats, type SelectionInput } from './select';

const table: RoutingTable = routingTableSchema.parse({
  channels: [
    {
      id: 'direct-sg',
      tier: 'direct',
      tps: 500,
      senderTypes: ['alphanumeric', 'international'],
      countries: { SG: { price: 0.04 } },
    },
    {
      id: 'aggr-apac',
      tier: 'aggregator',
      tps: 1000,
      senderTypes: ['alphanumeric', 'international', 'shortcode'],
      countries: { SG: { price: 0.025, carriers: { '52505': 0.02 } }, ID: { price: 0.03 } },
    },
    {
      id: 'grey',
      tier: 'indirect',
      tps: 2000,
      senderTypes: ['international'],
      receiptWindowSeconds: { otp: 45, other: 1800 },
      countries: { SG: { price: 0.008 }, ID: { price: 0.01 } },
    },
  ],
  lanes: { SG: 'apac' },
});

const message = (over: Partial<SelectionInput['message']> = {}): SelectionInput['message'] => ({
  messageId: 'm',
  country: 'SG',
  mccMnc: '52501',
  senderType: sms.SenderType.SENDER_TYPE_INTERNATIONAL,
  type: sms.MessageType.MESSAGE_TYPE_OTP,
  segments: 1,
  ...over,
});

const input = (over: Partial<SelectionInput> = {}): SelectionInput => ({
  message: message(),
  attempt: 1,
  table,
  stats: () => undefined,
  blocked: () => undefined,
  tried: new Set(),
  ...over,
});

/** How often each channel wins over many messages (different ids: different draws). */
function shares(make: (i: number) => SelectionInput, n = 2000): Record<string, number> {
  const wins: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const id = selectChannel(make(i)).channel?.id ?? 'none';
    wins[id] = (wins[id] ?? 0) + 1;
  }
  return Object.fromEntries(Object.entries(wins).map(([id, count]) => [id, count / n]));
}

describe('selectChannel', () => {
  it('gives the better channel most traffic, not all', () => {
    // Two comparable channels for OTP; one has delivered 95 of 100 lately, the other 80 of 100.
    const stats = (channel: string): RouteStats =>
      channel === 'direct-sg'
        ? { alpha: 95, beta: 5, latencyP50Ms: 3000 }
        : { alpha: 80, beta: 20, latencyP50Ms: 3000 };
    const won = shares((i) =>
      input({ message: message({ messageId: `m${i}` }), stats, tried: new Set(['grey']) }),
    );
    expect(won['direct-sg']).toBeGreaterThan(0.9);
    expect(won['aggr-apac']).toBeGreaterThan(0);
  });

  it('keeps exploring a channel with little evidence', () => {
    // Equal means, but one is known from 1,000 attempts and the other from 10: the uncertain one wins often.
    const stats = (channel: string): RouteStats =>
      channel === 'direct-sg'
        ? { alpha: 900, beta: 100, latencyP50Ms: 3000 }
        : { alpha: 9, beta: 1, latencyP50Ms: 3000 };
    const won = shares((i) =>
      input({ message: message({ messageId: `m${i}` }), stats, tried: new Set(['grey']) }),
    );
    expect(won['aggr-apac']).toBeGreaterThan(0.2);
  });

  it('weighs latency against its reference: a world on a six times faster clock decides as the real one', () => {
    // Equal delivery; aggr-apac delivers in 3 s and direct-sg in 8 s, or in 0.5 s and 1.33 s on the fast clock.
    const seen =
      (scale: number) =>
      (channel: string): RouteStats => ({
        alpha: 97,
        beta: 3,
        latencyP50Ms: (channel === 'aggr-apac' ? 3000 : 8000) / scale,
      });
    const won = (scale: number, latencyReferenceMs?: number) =>
      shares((i) =>
        input({
          message: message({ messageId: `m${i}` }),
          stats: seen(scale),
          tried: new Set(['grey']),
          latencyReferenceMs,
        }),
      )['aggr-apac'] ?? 0;
    const real = won(1);
    expect(real).toBeGreaterThan(0.99);
    // Measured on the fast clock against the real reference, 5 s of difference look like 0.8 s and the
    // draws of delivery decide more often; with the reference scaled alike, the choice is the real one's.
    expect(won(6)).toBeLessThan(real);
    expect(won(6, LATENCY_REFERENCE_MS / 6)).toBe(real);
  });

  it('scales the tier priors with the latency reference', () => {
    // No statistics: the priors decide (direct 3 s, aggregator 8 s), as much on a fast clock as on the real one.
    const decisions = (latencyReferenceMs?: number) =>
      Array.from({ length: 200 }, (_, i) =>
        selectChannel(
          input({ message: message({ messageId: `m${i}` }), tried: new Set(['grey']), latencyReferenceMs }),
        ).decision.candidates.map((c) => c.score.toFixed(9)),
      );
    expect(decisions(LATENCY_REFERENCE_MS / 6)).toEqual(decisions());
  });

  it('never chooses an open breaker, a channel that already failed, or one that cannot carry the message', () => {
    const won = shares((i) =>
      input({
        message: message({ messageId: `m${i}`, senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC }),
        blocked: (channel) => (channel === 'direct-sg' ? 'breaker open' : undefined),
      }),
    );
    // grey carries no alphanumeric senders; direct-sg is open: everything goes to aggr-apac.
    expect(won).toEqual({ 'aggr-apac': 1 });
    // direct-sg has no route to Indonesia.
    const idOnly = shares(
      (i) =>
        input({
          message: message({
            messageId: `m${i}`,
            country: 'ID',
            type: sms.MessageType.MESSAGE_TYPE_MARKETING,
          }),
        }),
      200,
    );
    expect(idOnly['direct-sg']).toBeUndefined();
    expect(idOnly['none']).toBeUndefined();
    const none = selectChannel(
      input({ message: message({ country: 'ID' }), tried: new Set(['aggr-apac', 'grey']) }),
    );
    expect(none.channel).toBeUndefined();
    // Only the channels that reach Indonesia are candidates: direct-sg is not one.
    expect(none.decision.candidates.map((c) => [c.channelId, c.excludedBecause])).toEqual([
      ['aggr-apac', 'already failed this message'],
      ['grey', 'already failed this message'],
    ]);
  });

  it('weighs only the channels that reach the country, and says when none does', () => {
    const global = routingTableSchema.parse({
      channels: [
        ...table.channels,
        ...Array.from({ length: 200 }, (_, i) => ({
          id: `elsewhere-${i}`,
          tier: 'aggregator',
          tps: 100,
          senderTypes: ['international'],
          countries: { [i % 2 === 0 ? 'BR' : 'MX']: { price: 0.001 } },
        })),
      ],
    });
    const decided = selectChannel(input({ table: global }));
    expect(decided.decision.candidates.map((c) => c.channelId)).toEqual(['direct-sg', 'aggr-apac', 'grey']);
    // The same draws as in the table without them: the other countries' channels change nothing.
    expect(decided.decision).toEqual(selectChannel(input()).decision);

    const nowhere = selectChannel(input({ table: global, message: message({ country: 'FR' }) }));
    expect(nowhere).toEqual({
      channel: undefined,
      decision: { candidates: [], reason: 'no route to FR' },
      blockedForNow: 0,
    });
  });

  it('takes a channel whose attempt is in doubt again only when no other channel is left', () => {
    const idMessage = (i: number) => message({ messageId: `m${i}`, country: 'ID' });
    // aggr-apac is in doubt, grey is left: grey takes every message.
    expect(
      shares((i) =>
        input({ message: idMessage(i), tried: new Set(['aggr-apac']), inDoubt: new Set(['aggr-apac']) }),
      ),
    ).toEqual({ grey: 1 });
    // grey failed too: the in-doubt channel again, saying why.
    const again = selectChannel(
      input({
        message: idMessage(0),
        tried: new Set(['aggr-apac', 'grey']),
        inDoubt: new Set(['aggr-apac']),
      }),
    );
    expect(again.channel?.id).toBe('aggr-apac');
    expect(again.decision.reason).toBe(
      'no other channel left: again on aggr-apac, whose attempt is in doubt',
    );
    // A channel that failed for certain is never taken again, and an open breaker is waited for instead.
    expect(
      selectChannel(
        input({ message: idMessage(0), tried: new Set(['aggr-apac', 'grey']), inDoubt: new Set() }),
      ).channel,
    ).toBeUndefined();
    const waiting = selectChannel(
      input({
        message: idMessage(0),
        tried: new Set(['aggr-apac']),
        inDoubt: new Set(['aggr-apac']),
        blocked: (channel) => (channel === 'grey' ? 'breaker open' : undefined),
      }),
    );
    expect({ channel: waiting.channel, blockedForNow: waiting.blockedForNow }).toEqual({
      channel: undefined,
      blockedForNow: 1,
    });
  });

  it('weighs the same candidates differently for OTP and marketing', () => {
    // With priors only: direct is fast and dear, grey slow and cheap.
    const otp = shares((i) => input({ message: message({ messageId: `o${i}` }) }));
    const marketing = shares((i) =>
      input({ message: message({ messageId: `k${i}`, type: sms.MessageType.MESSAGE_TYPE_MARKETING }) }),
    );
    expect(otp['direct-sg']).toBeGreaterThan(0.8);
    expect(marketing['grey'] ?? 0).toBeGreaterThan(otp['grey'] ?? 0);
    expect(marketing['direct-sg'] ?? 0).toBeLessThan(0.3);
  });

  it('sends an OTP away from a channel whose submissions queue in the connectors', () => {
    // Two equal channels; direct-sg's SMSC throttles and its OTPs wait 20 s before it takes them.
    const stats = (): RouteStats => ({ alpha: 95, beta: 5, latencyP50Ms: 3000 });
    const queueWaitMs = (channel: string) => (channel === 'direct-sg' ? 20_000 : 0);
    const make = (over: Partial<SelectionInput>) => (i: number) =>
      input({ message: message({ messageId: `q${i}` }), stats, tried: new Set(['grey']), ...over });
    expect(shares(make({}))['direct-sg']).toBeGreaterThan(0.3);
    expect(shares(make({ queueWaitMs }))['direct-sg'] ?? 0).toBeLessThan(0.05);
    const decided = selectChannel(make({ queueWaitMs })(0)).decision.candidates;
    expect(decided.find((c) => c.channelId === 'direct-sg')?.expectedLatencyMs).toBe(23_000);
    // The baseline knows no queues: the cheapest channel, however long its queue.
    const cheapestQueues = (channel: string) => (channel === 'aggr-apac' ? 20_000 : 0);
    const baseline = make({ queueWaitMs: cheapestQueues, strategy: 'cheapest' });
    expect(selectChannel(baseline(0)).channel?.id).toBe('aggr-apac');
  });

  it('decides the same for the same inputs and seed, and records why', () => {
    const a = selectChannel(input({ message: message({ messageId: 'same' }) }));
    const b = selectChannel(input({ message: message({ messageId: 'same' }) }));
    expect(b).toEqual(a);
    expect(a.decision.reason).toBe('thompson sample among 3 candidates');
    expect(a.decision.candidates.every((c) => c.deliveryProbability > 0 && c.pricePerSegment > 0)).toBe(true);
    const chosen = a.decision.candidates.find((c) => c.channelId === a.channel?.id);
    expect(Math.max(...a.decision.candidates.map((c) => c.score))).toBe(chosen?.score);
  });

  it('as the baseline, takes the cheapest channel that can carry the message, breakers or not', () => {
    const blockedAll = () => 'breaker open';
    const grey = selectChannel(input({ strategy: 'cheapest', blocked: blockedAll }));
    expect(grey.channel?.id).toBe('grey');
    expect(grey.decision.reason).toBe('cheapest eligible channel (baseline strategy)');
    // grey carries no alphanumeric senders: the next cheapest does.
    const alpha = selectChannel(
      input({
        strategy: 'cheapest',
        message: message({ senderType: sms.SenderType.SENDER_TYPE_ALPHANUMERIC }),
      }),
    );
    expect(alpha.channel?.id).toBe('aggr-apac');
    // The smart strategy honours the same breakers.
    expect(selectChannel(input({ blocked: blockedAll })).channel).toBeUndefined();
  });

  it('prices a carrier apart where the table says so, and maps countries to lanes', () => {
    const decision = selectChannel(input({ message: message({ mccMnc: '52505' }) })).decision;
    expect(decision.candidates.find((c) => c.channelId === 'aggr-apac')?.pricePerSegment).toBe(0.02);
    expect(laneOf(table, 'SG')).toBe('apac');
    expect(laneOf(table, 'BR')).toBe('default');
  });
});

describe('routing table', () => {
  it('refuses a duplicate channel, naming it', () => {
    const result = routingTableSchema.safeParse({
      channels: [table.channels[0], table.channels[0]],
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toBe('duplicate channel direct-sg');
  });

  it('refuses a lane named as another lane’s marketing consumers would be', () => {
    const result = routingTableSchema.safeParse({ ...table, lanes: { SG: 'apac-bulk' } });
    expect(result.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([
      ['lanes.SG', 'lowercase letters, digits and dashes, not ending in -bulk'],
    ]);
    expect(routingTableSchema.safeParse({ ...table, defaultLane: 'bulk' }).success).toBe(true);
  });

  it('expects receipts within the channel’s own window, else its tier’s, shorter for OTPs', () => {
    const [direct, aggregator, grey] = table.channels;
    expect(receiptWindowMs(direct!, true)).toBe(60_000);
    expect(receiptWindowMs(direct!, false)).toBe(300_000);
    expect(receiptWindowMs(aggregator!, true)).toBe(90_000);
    expect(receiptWindowMs(grey!, true)).toBe(45_000);
    expect(receiptWindowMs(grey!, false)).toBe(1_800_000);
  });

  it('stretches a window to five times its route’s measured p95 latency, up to three times its length', () => {
    const [direct] = table.channels;
    // Receipts as fast as usual (p95 8 s): the window stays as configured.
    expect(receiptWindowMs(direct!, true, 8_000)).toBe(60_000);
    // A congested channel (p95 24 s, three times its usual): five times that.
    expect(receiptWindowMs(direct!, true, 24_000)).toBe(120_000);
    // A channel whose receipts take minutes: at most three windows.
    expect(receiptWindowMs(direct!, true, 100_000)).toBe(180_000);
    expect(receiptWindowMs(direct!, false, 100_000)).toBe(500_000);
    expect(receiptWindowMs(direct!, false, 1_000_000)).toBe(900_000);
  });
});

describe('CircuitBreaker', () => {
  const policy: BreakerPolicy = {
    windowMs: 10_000,
    minOutcomes: 10,
    failureRatio: 0.5,
    openMs: 5_000,
    probes: 3,
  };
  interface Outcome {
    sentAt: number;
    at: number;
    ok: boolean;
  }
  /** Feeds outcomes in the order they arrive; the arrival at which the breaker opened, if it did. */
  const openedWhileFed = (breaker: CircuitBreaker, outcomes: readonly Outcome[]): number | undefined => {
    for (const { sentAt, at, ok } of [...outcomes].sort((a, b) => a.at - b.at)) {
      breaker.record(ok, sentAt, at);
      if (breaker.current(at) === 'open') return at;
    }
    return undefined;
  };

  it('opens on a failure spike, probes when half-open, closes after successful probes', () => {
    const breaker = new CircuitBreaker(policy);
    for (let i = 0; i < 9; i++) breaker.record(false, 1000 + i, 1000 + i);
    expect(breaker.current(1010)).toBe('closed'); // nine outcomes: not enough to judge
    breaker.record(false, 1010, 1010);
    expect(breaker.current(1011)).toBe('open');
    expect(breaker.allows(5000)).toBe(false);
    expect(breaker.current(6010)).toBe('half-open');
    // Looking does not use up probes; sending does.
    expect([breaker.allows(6010), breaker.allows(6010)]).toEqual([true, true]);
    const probes = [6010, 6011, 6012, 6013].map((t) => {
      const allowed = breaker.allows(t);
      if (allowed) breaker.sent(t);
      return allowed;
    });
    expect(probes).toEqual([true, true, true, false]);
    // Probes whose outcome never arrives are given back after openMs.
    expect(breaker.allows(6012 + policy.openMs)).toBe(true);
    breaker.record(true, 6100, 6100);
    breaker.record(true, 6101, 6101);
    breaker.record(true, 6102, 6102);
    expect(breaker.current(6103)).toBe('closed');
    expect(breaker.allows(6103)).toBe(true);
  });

  it('reopens on a failed probe, and forgets failures older than its window', () => {
    const breaker = new CircuitBreaker(policy);
    for (let i = 0; i < 10; i++) breaker.record(false, i, i);
    breaker.sent(6000);
    breaker.record(false, 6001, 6001);
    expect(breaker.current(6002)).toBe('open');

    const healthy = new CircuitBreaker(policy);
    for (let i = 0; i < 9; i++) healthy.record(false, i, i);
    // The old failures leave the window before the tenth outcome arrives.
    healthy.record(false, 20_000, 20_000);
    expect(healthy.current(20_001)).toBe('closed');
  });

  it('opens on the same outcome as a count over the whole window would, with tens of thousands in it', () => {
    const breaker = new CircuitBreaker(policy);
    const seen: { at: number; ok: boolean }[] = [];
    // A busy channel: one outcome a millisecond, healthy for 20 s, then every outcome a failure.
    let openedAt: number | undefined;
    for (let at = 0; at < 40_000 && openedAt === undefined; at++) {
      const ok = at < 20_000;
      breaker.record(ok, at, at);
      seen.push({ at, ok });
      if (breaker.current(at) === 'open') openedAt = at;
    }
    // The reference: the first moment after the failures began that those in the last windowMs reached
    // the ratio (outcome i happened at i ms, so the window is a slice).
    const expected = seen.slice(20_000).find(({ at }) => {
      const window = seen.slice(Math.max(0, at - policy.windowMs), at + 1);
      return window.filter((o) => !o.ok).length / window.length >= policy.failureRatio;
    })?.at;
    expect(expected).toBeGreaterThan(20_000);
    expect(openedAt).toBe(expected);
  });

  it('counts outcomes by when they were sent: late failures of traffic that stopped do not open it', () => {
    const breaker = new CircuitBreaker(policy);
    // 10 s of traffic, an attempt every 10 ms, delivered within a second; one in twenty expires, its
    // outcome 15 s after it was sent.
    const outcomes: Outcome[] = [];
    for (let sentAt = 0; sentAt < 10_000; sentAt += 10) {
      const ok = sentAt % 200 !== 0;
      outcomes.push({ sentAt, at: sentAt + (ok ? 1000 : 15_000), ok });
    }
    expect(openedWhileFed(breaker, outcomes)).toBeUndefined();
    // Counted on arrival, the last window would hold 50 failures and nothing else.
    const last = Math.max(...outcomes.map((o) => o.at));
    const arrivedInLastWindow = outcomes.filter((o) => o.at > last - policy.windowMs);
    expect(arrivedInLastWindow.length).toBeGreaterThanOrEqual(policy.minOutcomes);
    expect(arrivedInLastWindow.every((o) => !o.ok)).toBe(true);
    expect(breaker.current(last)).toBe('closed');
    expect(breaker.allows(last + 1)).toBe(true);
  });

  it('opens when the attempts sent in its window fail, their outcomes late', () => {
    const breaker = new CircuitBreaker(policy);
    // An attempt every 100 ms: delivered within a second until 5 s, then every one fails, known 8 s later.
    const outcomes: Outcome[] = [];
    for (let sentAt = 0; sentAt < 20_000; sentAt += 100) {
      const ok = sentAt < 5000;
      outcomes.push({ sentAt, at: sentAt + (ok ? 1000 : 8000), ok });
    }
    const openedAt = openedWhileFed(breaker, outcomes);
    // The failure sent at 6,000 arrives at 14,000: of the attempts sent since 4,000, ten delivered (sent
    // 4,000-4,900) and eleven failed (5,000-6,000). Counted on arrival, 20 deliveries were in that window.
    expect(openedAt).toBe(14_000);
  });

  it('opens on the outcome a count of the attempts sent in its window would, out of order', () => {
    let seed = 7;
    const random = () => (seed = (seed * 16_807) % 2_147_483_647) / 2_147_483_647;
    // Healthy for 20 s, then 70% failures; deliveries known within 3 s of sending, failures within 9 s.
    const outcomes: Outcome[] = [];
    for (let sentAt = 0; sentAt < 40_000; sentAt += 20) {
      const ok = sentAt < 20_000 || random() < 0.3;
      outcomes.push({ sentAt, at: sentAt + Math.floor(random() * (ok ? 3000 : 9000)), ok });
    }
    outcomes.sort((a, b) => a.at - b.at);
    const breaker = new CircuitBreaker(policy);
    const openedAt = openedWhileFed(breaker, outcomes);
    // The reference: the first arrival at which the outcomes known so far of the attempts sent in the last
    // windowMs reach the ratio.
    const expected = outcomes.find(({ at }, i) => {
      const window = outcomes.slice(0, i + 1).filter((o) => o.sentAt >= at - policy.windowMs);
      const failed = window.filter((o) => !o.ok).length;
      return window.length >= policy.minOutcomes && failed / window.length >= policy.failureRatio;
    })?.at;
    expect(expected).toBeGreaterThan(20_000);
    expect(openedAt).toBe(expected);
  });

  it('takes as probes only the outcomes of attempts sent since it opened', () => {
    const breaker = new CircuitBreaker(policy);
    for (let i = 0; i < 10; i++) breaker.record(false, 1000 + i, 1000 + i);
    expect(breaker.current(1010)).toBe('open');
    expect(breaker.current(6010)).toBe('half-open');
    // Attempts sent before it opened, known late: a delivery does not close it, a failure does not reopen it.
    for (let i = 0; i < policy.probes; i++) breaker.record(true, 900 + i, 6020 + i);
    breaker.record(false, 950, 6030);
    expect(breaker.current(6031)).toBe('half-open');
    for (const t of [6040, 6041, 6042]) {
      expect(breaker.allows(t)).toBe(true);
      breaker.sent(t);
      breaker.record(true, t, t + 50);
    }
    expect(breaker.current(6100)).toBe('closed');
  });
});
