// What routing with perfect knowledge would have done with a run's OTPs, on the same world: each attempt goes
// to the route with the best true delivery and latency towards the OTP's carrier at that moment of the
// scenario (the simulator's own model, degradations and outages included), by the router's own OTP balance
// of delivery, latency and price; a failed attempt fails over when its receipt would have come. The same
// limits hold (channel and country TPS: an attempt waits for its slot), and the platform takes no time.
// Fates are drawn from the simulator's model with a seed of their own, so the oracle's row is a sample too.
import { Random, type ChannelSpec } from '@tern/carrier-sim';
import { sms } from '@tern/contracts';
import { TYPE_WEIGHTS } from '../../services/router/src/domain/select';
import type { PlatformRun } from './platform-run';
import type { Tally } from './tally';

/** An OTP's validity: no attempt after it. */
const OTP_VALIDITY_MS = 10 * 60_000;
const WEIGHTS = TYPE_WEIGHTS[sms.MessageType.MESSAGE_TYPE_OTP];

/** The oracle's row for a run's OTPs (the same ones, at the same scenario times). */
export function oracleTally(run: PlatformRun, seed = run.options.seed ?? 1): Tally {
  const { world } = run.simulator;
  const { scenario } = run.options;
  const random = new Random(seed ^ 0x5eed);
  const nextSlot = new Map<string, number>();
  /** The earliest time at or after `at` when every limit named has a slot, which it then takes. */
  const slot = (at: number, limits: readonly (readonly [string, number])[]) => {
    const start = Math.max(at, ...limits.map(([key]) => nextSlot.get(key) ?? at));
    for (const [key, tps] of limits) nextSlot.set(key, start + 1000 / tps);
    return start;
  };
  const down = (channel: ChannelSpec, at: number) =>
    scenario.timeline.some(
      (e) => e.event === 'outage' && e.channel === channel.id && at >= e.from && at < e.until,
    );
  const otps = [...run.otps.values()].sort((a, b) => a.sentAt - b.sentAt);
  const latencies: number[] = [];
  let cost = 0;
  let retries = 0;
  for (const otp of otps) {
    const country = scenario.countries.find((c) => c.code === otp.country);
    const carrier = country?.carriers.find((c) => c.id === otp.carrier);
    if (!country || !carrier) continue;
    const tried = new Set<string>();
    let at = otp.sentAt;
    for (;;) {
      const simTime = run.simulatedAt(at);
      const candidates = scenario.channels.filter(
        (c) => c.countries.includes(country.code) && !tried.has(c.id) && !down(c, at),
      );
      const maxPrice = Math.max(1e-9, ...candidates.map((c) => c.pricePerSegment));
      const best = candidates
        .map((channel) => {
          const model = world.model(channel, carrier.id, simTime);
          const score =
            WEIGHTS.delivery * model.deliveryRate -
            WEIGHTS.latency * Math.min(model.latency.p50 / 10_000, 3) -
            WEIGHTS.cost * (channel.pricePerSegment / maxPrice);
          return { channel, score };
        })
        .sort((a, b) => b.score - a.score)[0]?.channel;
      if (!best) break;
      const limits: [string, number][] = [[`channel:${best.id}`, world.tps(best, simTime)]];
      if (country.tps) limits.push([`country:${country.code}`, country.tps]);
      const submitAt = slot(at, limits);
      if (submitAt - otp.sentAt > OTP_VALIDITY_MS) break;
      if (tried.size > 0) retries++;
      tried.add(best.id);
      cost += best.pricePerSegment;
      const fate = world.fate(
        {
          channel: best,
          destination: { country, carrier, invalid: false },
          sender: run.options.sender ?? 'Tern',
          senderKind: 'alphanumeric',
          text: 'Your code is 000000',
          simTime: run.simulatedAt(submitAt),
        },
        random,
      );
      if (fate.stat === 'DELIVRD') {
        latencies.push(submitAt + fate.latencyMs - otp.sentAt);
        break;
      }
      at = submitAt + fate.latencyMs;
    }
  }
  latencies.sort((a, b) => a - b);
  const quantile = (p: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? Number.NaN;
  return {
    label: 'oracle (perfect knowledge)',
    otps: otps.length,
    delivered: latencies.length,
    deliveryRate: latencies.length / Math.max(1, otps.length),
    lost: otps.length - latencies.length,
    neverSubmitted: 0,
    sentTwice: 0,
    latenciesMs: latencies,
    p50Ms: quantile(0.5),
    p95Ms: quantile(0.95),
    meanMs: latencies.reduce((s, x) => s + x, 0) / Math.max(1, latencies.length),
    costPerDelivered: cost / Math.max(1, latencies.length),
    retries,
  };
}

/** Tern's regret against the oracle, in one line for the table's notes. */
export function regretLine(tern: Tally, oracle: Tally): string {
  const points = 100 * (oracle.deliveryRate - tern.deliveryRate);
  const latency = tern.meanMs / Math.max(1, oracle.meanMs) - 1;
  const cost = tern.costPerDelivered / Math.max(1e-9, oracle.costPerDelivered) - 1;
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(0)}%`;
  return (
    `Tern's regret against the oracle: ${points.toFixed(1)} delivery points, mean latency ${pct(latency)} ` +
    `(${((tern.meanMs - oracle.meanMs) / 1000).toFixed(1)} s), cost per delivered ${pct(cost)} ` +
    `(targets: within 1.5 points and +25%: ${points <= 1.5 && latency <= 0.25 ? 'met' : 'not met'})`
  );
}
