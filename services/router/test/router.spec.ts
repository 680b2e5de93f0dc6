import { events, sms } from '@tern/contracts';
import { topics } from '@tern/kafka';
import { ChannelBacklog } from '@tern/redis';
import { infraFromEnv, startPrometheus, uniqueName, waitFor, type ServiceProcess } from '@tern/testing';
import { Redis } from 'ioredis';
import {
  approved,
  closeHarness,
  ensureLaneTopics,
  messageFactory,
  metric,
  publish,
  startRouter,
  tableFile,
  watch,
  type Seen,
} from './harness';

// The built router against the real local Kafka and Redis. Each test has its own lane (dispatch topic),
// channel ids (so routing weights of other runs do not apply) and router deployment (consumer groups).
describe('router', () => {
  let routers: ServiceProcess[] = [];
  let stopWatching: (() => Promise<void>) | undefined;
  let stopPrometheus: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await stopPrometheus?.();
    stopPrometheus = undefined;
    await Promise.all(routers.map((r) => r.stop()));
    routers = [];
    await stopWatching?.();
  });
  afterAll(closeHarness);

  /** A fresh lane, channels a/b/c of the given tiers and prices towards SG, and a watcher on the output. */
  async function setUp(extra = '', channels = 'a:direct:0.02,b:aggregator:0.01') {
    const run = uniqueName('rt');
    const ids = Object.fromEntries(
      channels.split(',').map((c) => [c.split(':')[0]!, `${c.split(':')[0]}-${run}`]),
    );
    const rows = channels.split(',').map((c) => {
      const [name, tier, price] = c.split(':');
      return `  - { id: ${ids[name!]}, tier: ${tier}, tps: 5000, senderTypes: [alphanumeric], countries: { SG: { price: ${price} }, AE: { price: ${price} } } }`;
    });
    const yaml = (rowsNow: string[]) => ['channels:', ...rowsNow, `defaultLane: ${run}`, extra].join('\n');
    const table = tableFile(yaml(rows));
    await ensureLaneTopics(run);
    const { seen, stop } = await watch(run, run);
    stopWatching = stop;
    return { run, ids, table, seen, yaml, rows, message: messageFactory(run) };
  }

  /** A routing weight towards SG as analytics publishes it: delivery evidence alpha:beta, 3 s median. */
  const weight = (channelId: string, alpha: number, beta: number): events.RoutingWeight =>
    events.RoutingWeight.fromPartial({
      country: 'SG',
      channelId,
      deliveredAlpha: alpha,
      deliveredBeta: beta,
      latencyP50Ms: 3000,
      computedAt: new Date(),
    });

  const share = (seen: Seen, ids: string[], channelId: string) => {
    const mine = seen.dispatches.filter((d) => ids.includes(d.message?.messageId ?? ''));
    return mine.filter((d) => d.channelId === channelId).length / mine.length;
  };

  /** A router on channels of the same tier, and one OTP with ten minutes of validity routed once. */
  async function routedOnce(channels: string) {
    const context = await setUp('', channels);
    routers.push(await startRouter(context.table.path, context.run));
    const m = context.message({ expiresAt: new Date(Date.now() + 600_000) });
    await publish(topics.approved, [approved(m)]);
    const first = await waitFor('attempt 1', () => context.seen.of(m.messageId)[0]);
    return { ...context, m, first };
  }

  /** A retry request as the connector or dlr sends it: naming only the channel of the attempt that failed. */
  const retryOf = (
    message: events.SmsMessage,
    failedAttempt: number,
    channelId: string,
    code = 'THROTTLED',
  ): events.RetryRequest => ({
    message,
    failedAttempt,
    triedChannelIds: [channelId],
    reason: { code, description: 'attempt failed', retryable: true },
    requestedAt: new Date(),
  });

  it('dispatches to the lane with its decision and a ROUTED status; unroutable and malformed input end cleanly', async () => {
    const { run, ids, table, seen, message } = await setUp();
    routers.push(await startRouter(table.path, run));
    const ok = message();
    const nowhere = message({ country: 'FR' });
    await publish(topics.approved, [
      approved(ok),
      approved(nowhere),
      { message: undefined, adjustments: [] },
    ]);

    const [dispatch] = await waitFor(
      'the dispatch',
      () => seen.of(ok.messageId).length === 1 && seen.of(ok.messageId),
    );
    expect(dispatch!.lane).toBe(run);
    expect(dispatch!.attempt).toBe(1);
    expect([ids.a, ids.b]).toContain(dispatch!.channelId);
    expect(dispatch!.decision?.candidates.map((c) => c.channelId).sort()).toEqual([ids.a, ids.b].sort());
    expect(dispatch!.decision?.reason).toMatch(/thompson sample among 2 candidates/);
    const routed = await waitFor('ROUTED', () =>
      seen.statusOf(ok.messageId).find((s) => s.status === sms.MessageStatus.MESSAGE_STATUS_ROUTED),
    );
    expect(routed.channelId).toBe(dispatch!.channelId);

    const failed = await waitFor('FAILED for no route', () =>
      seen.statusOf(nowhere.messageId).find((s) => s.status === sms.MessageStatus.MESSAGE_STATUS_FAILED),
    );
    expect(failed.reason?.code).toBe('NO_ROUTE');
    expect(failed.reason?.description).toMatch(/no route to FR/);
    expect(seen.of(nowhere.messageId)).toHaveLength(0);
    await waitFor(
      'the malformed record dead-lettered',
      async () => (await metric(routers[0]!, 'tern_kafka_dlq_total', { reason: 'MISSING_MESSAGE' })) === 1,
    );
  });

  it('shifts new traffic within seconds of a weights update', async () => {
    const { run, ids, table, seen, message } = await setUp('', 'a:direct:0.01,b:direct:0.01');
    routers.push(await startRouter(table.path, run));
    const round = async () => {
      const batch = Array.from({ length: 200 }, () => message());
      await publish(topics.approved, batch.map(approved));
      const idsOf = batch.map((m) => m.messageId);
      await waitFor('the round dispatched', () => batch.every((m) => seen.of(m.messageId).length === 1));
      return idsOf;
    };
    await publish(topics.routingWeights, [weight(ids.a!, 95, 5), weight(ids.b!, 40, 60)]);
    await new Promise((r) => setTimeout(r, 2000)); // weights travel to the router
    const first = await round();
    expect(share(seen, first, ids.a!)).toBeGreaterThan(0.95);

    const updatedAt = Date.now();
    await publish(topics.routingWeights, [weight(ids.a!, 40, 60), weight(ids.b!, 95, 5)]);
    await new Promise((r) => setTimeout(r, 2000));
    const second = await round();
    expect(share(seen, second, ids.b!)).toBeGreaterThan(0.95);
    expect(Date.now() - updatedAt).toBeLessThan(15_000);
  });

  it('routes its first messages after a start on the weights published before it, however long their history', async () => {
    const { run, ids, table, seen, message } = await setUp('', 'a:direct:0.01,b:direct:0.01');
    // Ten thousand cycles of analytics that trusted channel a, then the latest, which turned to b.
    const history = Array.from({ length: 10_000 }, () => [weight(ids.a!, 95, 5), weight(ids.b!, 40, 60)]);
    await publish(topics.routingWeights, [...history.flat(), weight(ids.a!, 40, 60), weight(ids.b!, 95, 5)]);
    routers.push(await startRouter(table.path, run));
    // Sent the moment it is ready: routed on the priors, these would split between two equal channels.
    const batch = Array.from({ length: 200 }, () => message());
    await publish(topics.approved, batch.map(approved));
    await waitFor('the batch dispatched', () => batch.every((m) => seen.of(m.messageId).length === 1));
    expect(
      share(
        seen,
        batch.map((m) => m.messageId),
        ids.b!,
      ),
    ).toBeGreaterThan(0.95);
  });

  it('sends OTPs away from a channel whose connectors report a queue, and back once it drains', async () => {
    const { run, ids, table, seen, message } = await setUp('', 'a:direct:0.01,b:direct:0.01');
    routers.push(await startRouter(table.path, run));
    // A connector of the lane, as it reports its channels (channel a's SMSC throttles).
    const redis = new Redis(infraFromEnv().redisUrl);
    const connector = new ChannelBacklog(redis);
    try {
      const round = async () => {
        const batch = Array.from({ length: 200 }, () => message());
        await publish(topics.approved, batch.map(approved));
        await waitFor('the round dispatched', () => batch.every((m) => seen.of(m.messageId).length === 1));
        return batch.map((m) => m.messageId);
      };
      await connector.mark(new Map([[ids.a!, { urgentMs: 30_000, bulkMs: 60_000 }]]));
      await new Promise((r) => setTimeout(r, 2500)); // the routers read the connectors' reports every half second
      const queued = await round();
      expect(share(seen, queued, ids.b!)).toBeGreaterThan(0.95);
      const decision = seen.of(queued[0]!)[0]!.decision!;
      expect(decision.candidates.find((c) => c.channelId === ids.a)?.expectedLatencyMs).toBeGreaterThan(
        30_000,
      );

      await connector.mark(new Map());
      await new Promise((r) => setTimeout(r, 2500));
      expect(share(seen, await round(), ids.a!)).toBeGreaterThan(0.2);
    } finally {
      await connector.mark(new Map());
      await redis.quit();
    }
  });

  it('stretches the receipt window of a route whose measured latency rose, and shortens it once it falls', async () => {
    const { run, ids, table, seen, message } = await setUp('', 'a:direct:0.01');
    routers.push(await startRouter(table.path, run));
    const windowOf = async (p95Ms: number, type: sms.MessageType) => {
      await publish(topics.routingWeights, [{ ...weight(ids.a!, 95, 5), latencyP95Ms: p95Ms }]);
      await new Promise((r) => setTimeout(r, 2000)); // weights travel to the router
      const m = message({ type });
      await publish(topics.approved, [approved(m)]);
      const [dispatch] = await waitFor(
        'the dispatch',
        () => seen.of(m.messageId).length === 1 && seen.of(m.messageId),
      );
      return dispatch!.receiptWindowMs;
    };
    const { MESSAGE_TYPE_OTP: otp, MESSAGE_TYPE_TRANSACTIONAL: transactional } = sms.MessageType;
    // A direct channel: OTP 60 s, other messages 300 s, as long as its receipts come as usual.
    expect(await windowOf(8_000, otp)).toBe(60_000);
    // Congested, its receipts take three times as long: five times the measured p95.
    expect(await windowOf(24_000, otp)).toBe(120_000);
    expect(await windowOf(100_000, transactional)).toBe(500_000);
    // At most three times the configured window; back to it once the latency falls.
    expect(await windowOf(100_000, otp)).toBe(180_000);
    expect(await windowOf(3_000, otp)).toBe(60_000);
  });

  it('opens the breaker of a failing channel and fails over to the other; the breaker alert fires', async () => {
    const { run, ids, table, seen, message } = await setUp('', 'a:direct:0.01,b:aggregator:0.01');
    routers.push(await startRouter(table.path, run));
    // Operators see it as the shipped alert rules do, from a real Prometheus scraping this router.
    const prometheus = await startPrometheus([`127.0.0.1:${routers[0]!.httpPort}`]);
    stopPrometheus = () => prometheus.stop();
    const before = Array.from({ length: 100 }, () => message());
    await publish(topics.approved, before.map(approved));
    await waitFor('the first traffic', () => before.every((m) => seen.of(m.messageId).length === 1));
    expect(
      share(
        seen,
        before.map((m) => m.messageId),
        ids.a!,
      ),
    ).toBeGreaterThan(0.5); // direct is preferred

    // A stream of refused submissions on channel a, as dlr records their attempts.
    const failures = Array.from({ length: 30 }, (_, i) =>
      events.AttemptRecord.fromPartial({
        messageId: `${run}-failure-${i}`,
        attempt: 1,
        version: 1,
        channelId: ids.a,
        status: sms.MessageStatus.MESSAGE_STATUS_FAILED,
        reasonCode: 'SYSTEM_ERROR',
        retryable: true,
        errorCode: 'SYSTEM_ERROR',
        country: 'SG',
        mccMnc: '52501',
        submittedAt: new Date(),
        doneAt: new Date(),
      }),
    );
    await publish(topics.attempts, failures);
    await waitFor(
      'the breaker to open',
      async () => {
        const probe = message();
        await publish(topics.approved, [approved(probe)]);
        const [d] = await waitFor(
          'probe dispatch',
          () => seen.of(probe.messageId).length === 1 && seen.of(probe.messageId),
        );
        return (
          d!.channelId === ids.b &&
          d!.decision!.candidates.some((c) => c.excludedBecause === `breaker open for ${ids.a}`)
        );
      },
      15_000,
      200,
    );
    const after = Array.from({ length: 100 }, () => message());
    await publish(topics.approved, after.map(approved));
    await waitFor('the traffic after', () => after.every((m) => seen.of(m.messageId).length === 1));
    expect(
      share(
        seen,
        after.map((m) => m.messageId),
        ids.b!,
      ),
    ).toBe(1);
    expect(await metric(routers[0]!, 'tern_router_breaker_state', { channel: ids.a!, mcc_mnc: '' })).toBe(2);
    expect(await metric(routers[0]!, 'tern_router_breaker_state', { channel: ids.b!, mcc_mnc: '' })).toBe(0);
    // Open, then half-open with probes whose outcomes never come: at least 15 s not closed, so it fires.
    const alert = await waitFor(
      'TernBreakerOpen to fire',
      async () =>
        (await prometheus.alerts()).find(
          (a) =>
            a.labels['alertname'] === 'TernBreakerOpen' &&
            a.labels['channel'] === ids.a &&
            a.labels['mcc_mnc'] === undefined && // Prometheus drops empty labels: the channel's own breaker
            a.state === 'firing',
        ),
      40_000,
      500,
    );
    expect(alert.labels['severity']).toBe('warning');
    expect(alert.annotations['summary']).toBe(`Breaker of ${ids.a} is open`);
  });

  it('retries on a channel the message has not failed on, once per attempt, until validity runs out', async () => {
    const { ids, seen, message, m, first } = await routedOnce('a:direct:0.01,b:direct:0.01,c:direct:0.01');
    const retry = (failedAttempt: number, channelId: string, of = m) => retryOf(of, failedAttempt, channelId);
    await publish(topics.retry, [retry(1, first.channelId), retry(1, first.channelId)]);
    await waitFor('attempt 2', () => seen.of(m.messageId).some((d) => d.attempt === 2));
    await new Promise((r) => setTimeout(r, 1000)); // time for the redelivered request to be routed too
    const attempts2 = seen.of(m.messageId).filter((d) => d.attempt === 2);
    // A redelivered retry request routes the same attempt to the same channel (the connector submits it once).
    expect(new Set(attempts2.map((d) => d.channelId)).size).toBe(1);
    const second = attempts2[0]!;
    expect(second.channelId).not.toBe(first.channelId);

    await publish(topics.retry, [retry(2, second.channelId)]);
    const third = await waitFor('attempt 3', () => seen.of(m.messageId).find((d) => d.attempt === 3));
    // Attempt 1's channel is remembered even though this request names only attempt 2's.
    expect(third.channelId).not.toBe(first.channelId);
    expect(third.channelId).not.toBe(second.channelId);
    expect(Object.values(ids)).toContain(third.channelId);

    // Validity too short for another attempt: the message ends EXPIRED, nothing is dispatched.
    const late = message({ expiresAt: new Date(Date.now() + 2000) });
    await publish(topics.retry, [retry(1, ids.a!, late)]);
    const expired = await waitFor('EXPIRED', () =>
      seen.statusOf(late.messageId).find((s) => s.status === sms.MessageStatus.MESSAGE_STATUS_EXPIRED),
    );
    expect(expired.reason?.code).toBe('EXPIRED');
    // And the attempt cap (3 by default) ends a message too.
    await publish(topics.retry, [retry(3, third.channelId)]);
    const givenUp = await waitFor('UNDELIVERED after 3 attempts', () =>
      seen.statusOf(m.messageId).find((s) => s.status === sms.MessageStatus.MESSAGE_STATUS_UNDELIVERED),
    );
    expect(givenUp.reason?.code).toBe('MAX_ATTEMPTS');
    expect(seen.of(late.messageId)).toHaveLength(0);
    expect(seen.of(m.messageId).filter((d) => d.attempt === 4)).toHaveLength(0);
  });

  it('sends an attempt in doubt again on its channel only when no other channel is left', async () => {
    const { seen, m, first } = await routedOnce('a:direct:0.01,b:direct:0.01');
    // The first channel fails for certain: the other one.
    await publish(topics.retry, [retryOf(m, 1, first.channelId)]);
    const second = await waitFor('attempt 2', () => seen.of(m.messageId).find((d) => d.attempt === 2));
    expect(second.channelId).not.toBe(first.channelId);
    // In doubt there, with no channel left: the in-doubt channel again, not a message ended FAILED.
    await publish(topics.retry, [retryOf(m, 2, second.channelId, 'OUTCOME_UNKNOWN')]);
    const third = await waitFor('attempt 3', () => seen.of(m.messageId).find((d) => d.attempt === 3));
    expect(third.channelId).toBe(second.channelId);
    expect(third.decision?.reason).toBe(
      `no other channel left: again on ${second.channelId}, whose attempt is in doubt`,
    );
    expect(
      seen.statusOf(m.messageId).filter((s) => s.status === sms.MessageStatus.MESSAGE_STATUS_FAILED),
    ).toHaveLength(0);
  });

  it('dispatches an OTP at once while 20,000 marketing messages wait for the country limit', async () => {
    const { run, table, seen, message } = await setUp('countryLimits: { SG: { perSecond: 100 } }');
    routers.push(await startRouter(table.path, run));
    // At the head of the queue, 300 with 1.5 s of validity: the limit lets ~250 through in time.
    const shortLived = Array.from({ length: 300 }, () =>
      message({ type: sms.MessageType.MESSAGE_TYPE_MARKETING, expiresAt: new Date(Date.now() + 1500) }),
    );
    const marketing = Array.from({ length: 20_000 }, () =>
      approved(message({ type: sms.MessageType.MESSAGE_TYPE_MARKETING })),
    );
    await publish(topics.approved, [...shortLived.map(approved), ...marketing]);
    await waitFor('marketing flowing', () => seen.dispatches.length > 200);
    const otp = message();
    const sentAt = Date.now();
    await publish(topics.approved, [approved(otp)]);
    await waitFor('the OTP', () => seen.of(otp.messageId).length === 1, 10_000, 20);
    const otpLatency = Date.now() - sentAt;
    const marketingDone = seen.dispatches.length - 1;
    expect(marketingDone).toBeLessThan(5_000); // most of the campaign is still waiting
    expect(otpLatency).toBeLessThan(5_000);
    // The rest of the campaign waits in the router rather than being dropped or dispatched (read until the
    // intake has caught up: on a loaded machine it takes a moment to read 20,000 records).
    await waitFor(
      'the campaign waiting',
      async () => (await metric(routers[0]!, 'tern_router_waiting', { class: 'bulk' })) > 1000,
    );

    // Those whose validity ran out while waiting end EXPIRED and are never dispatched.
    const expired = shortLived.filter((m) =>
      seen.statusOf(m.messageId).some((st) => st.status === sms.MessageStatus.MESSAGE_STATUS_EXPIRED),
    );
    expect(expired.length).toBeGreaterThan(0);
    for (const m of expired) expect(seen.of(m.messageId)).toHaveLength(0);
    expect(seen.statusOf(expired[0]!.messageId)[0]?.reason?.description).toMatch(
      /waiting for the rate limits/,
    );

    // Stopping releases the waiting messages undispatched (they stay in Kafka for the next router).
    const beforeStop = seen.dispatches.length;
    await routers[0]!.stop();
    await new Promise((r) => setTimeout(r, 1000));
    expect(seen.dispatches.length - beforeStop).toBeLessThan(200);
  });

  it('holds a country limit across two router instances', async () => {
    const { run, table, seen, message } = await setUp('countryLimits: { AE: { perSecond: 40, burst: 40 } }');
    routers.push(await startRouter(table.path, run), await startRouter(table.path, run));
    const batch = Array.from({ length: 300 }, () => approved(message({ country: 'AE' })));
    await publish(topics.approved, batch);
    await waitFor('all dispatched', () => seen.dispatches.length === 300, 60_000);
    const times = seen.dispatches.map((d) => d.routedAt!.getTime()).sort((x, y) => x - y);
    // In any one second, at most the rate plus the burst; over the run, the rate.
    let maxInSecond = 0;
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[i]! - times[j]! >= 1000) j++;
      maxInSecond = Math.max(maxInSecond, i - j + 1);
    }
    expect(maxInSecond).toBeLessThanOrEqual(40 + 40);
    expect(times.at(-1)! - times[0]!).toBeGreaterThanOrEqual(((300 - 40) / 40) * 1000 * 0.95);
    // Both instances did part of the work.
    for (const router of routers) {
      expect(await metric(router, 'tern_router_decisions_total', { outcome: 'dispatched' })).toBeGreaterThan(
        0,
      );
    }
  });

  it('routes a first attempt delivered again to its channel, even once no channel can take its country', async () => {
    const { run, table, seen, message, yaml, rows } = await setUp();
    const router = await startRouter(table.path, run);
    routers.push(router);
    const m = message();
    await publish(topics.approved, [approved(m)]);
    const [first] = await waitFor(
      'attempt 1',
      () => seen.of(m.messageId).length === 1 && seen.of(m.messageId),
    );

    // Delivered again (a crash before the commit): the same attempt, to the same channel.
    await publish(topics.approved, [approved(m)]);
    const [, again] = await waitFor('again', () => seen.of(m.messageId).length === 2 && seen.of(m.messageId));
    expect([again!.attempt, again!.channelId]).toEqual([1, first!.channelId]);

    // Neither channel reaches SG any more: new traffic there ends, but attempt 1 goes where it went.
    table.write(yaml(rows.map((row) => row.replace('SG: ', 'MY: '))));
    await waitFor('the reload', () => router.logs.some((l) => l['msg'] === 'routing table reloaded'));
    const fresh = message();
    await publish(topics.approved, [approved(fresh), approved(m)]);
    const [, , third] = await waitFor(
      'a third time',
      () => seen.of(m.messageId).length === 3 && seen.of(m.messageId),
    );
    expect([third!.attempt, third!.channelId]).toEqual([1, first!.channelId]);
    expect(third!.decision?.reason).toBe('attempt 1 was routed before');
    const failed = await waitFor('FAILED for no route', () =>
      seen.statusOf(fresh.messageId).find((s) => s.status === sms.MessageStatus.MESSAGE_STATUS_FAILED),
    );
    expect(failed.reason?.code).toBe('NO_ROUTE');
    expect(seen.statusOf(m.messageId).map((s) => s.status)).not.toContain(
      sms.MessageStatus.MESSAGE_STATUS_FAILED,
    );
  });

  it('waits for a message’s earliest send time, and takes a new routing table without a restart', async () => {
    const { run, ids, table, seen, message, yaml, rows } = await setUp();
    const router = await startRouter(table.path, run);
    routers.push(router);
    const notBefore = new Date(Date.now() + 3000);
    const later = message({ notBefore, type: sms.MessageType.MESSAGE_TYPE_MARKETING });
    await publish(topics.approved, [approved(later)]);
    const [d] = await waitFor(
      'the deferred dispatch',
      () => seen.of(later.messageId).length === 1 && seen.of(later.messageId),
      15_000,
    );
    expect(d!.routedAt!.getTime()).toBeGreaterThanOrEqual(notBefore.getTime());

    // Channel a leaves the table: new traffic goes to b only.
    table.write(yaml([rows[1]!]));
    await waitFor('the reload', () => router.logs.some((l) => l['msg'] === 'routing table reloaded'));
    const onlyB = Array.from({ length: 30 }, () => message());
    await publish(topics.approved, onlyB.map(approved));
    await waitFor('dispatched', () => onlyB.every((m) => seen.of(m.messageId).length === 1));
    expect(onlyB.every((m) => seen.of(m.messageId)[0]!.channelId === ids.b)).toBe(true);

    // A broken table is refused; the last good one stays in force.
    table.write('channels: [{ id: "Not An Id", tier: platinum }]\n');
    await waitFor('the refusal', () =>
      router.logs.some((l) => l['msg']?.toString().startsWith('routing table refused')),
    );
    const still = message();
    await publish(topics.approved, [approved(still)]);
    const [s] = await waitFor(
      'still routed',
      () => seen.of(still.messageId).length === 1 && seen.of(still.messageId),
    );
    expect(s!.channelId).toBe(ids.b);
  });
});
