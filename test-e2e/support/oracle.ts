// What routing with perfect knowledge would have done with a run's OTPs, on the same world: each attempt goes
// to the route with the best true delivery and latency towards the OTP's carrier at that moment of the
// scenario (the simulator's own model, degradations and outages included), by the router's own OTP balance
// of delivery, latency and price; a failed attempt fails over when its receipt would have come. The same
// limits hold (channel and country TPS: an attempt waits for its slot), and the platform takes no time.
// Fates are drawn from the simulator's model with a seed of their own, so the oracle's row is a sample too.
import { Random, type ChannelSpec } from '@tern/carrier-sim';
import { sms } from '@tern/contracts';
import { LATENCY_REFERENCE_MS } from '@tern/sms-domain';
import { TYPE_WEIGHTS } from '../../services/router/src/domain/select';
import type { PlatformRun, SentOtp } from './platform-run';
import { tallyRow, type Tally } from './tally';

/** An OTP's validity: no attempt after it. */
const OTP_VALIDITY_MS = 10 * 60_000;
const WEIGHTS = TYPE_WEIGHTS[sms.MessageType.MESSAGE_TYPE_OTP];

/** The oracle's row for a run's OTPs (the same ones, at the same scenario times). */
export function oracleTally(run: PlatformRun, seed = run.options.seed ?? 1): Tally {
  const { world } = run.simulator;
  const { scenario } = run.options;
  const random = new Random(seed ^ 0x5eed);
  const nextSlot = new Map<string, number>();
  /** The earliest time at or after `at` when every limit named has a slot. */
  const slotAt = (at: number, limits: readonly (readonly [string, number])[]) =>
    Math.max(at, ...limits.map(([key]) => nextSlot.get(key) ?? at));
  // Limits are per real second: on a world at time scale 10, a slot is ten scenario seconds over TPS.
  const take = (start: number, limits: readonly (readonly [string, number])[]) => {
    for (const [key, tps] of limits) nextSlot.set(key, start + (1000 * run.timeScale) / tps);
  };
  const down = (channel: ChannelSpec, at: number) =>
    scenario.timeline.some(
      (e) => e.event === 'outage' && e.channel === channel.id && at >= e.from && at < e.until,
    );
  const otps = [...run.otps.values()];
  const latencies: number[] = [];
  let cost = 0;
  let retries = 0;
  // Attempts in the order of their time, failovers among first attempts, so that each takes the next free
  // slot of its limits as the time comes.
  const due: { otp: SentOtp; at: number; tried: Set<string> }[] = otps.map((otp) => ({
    otp,
    at: otp.sentAt,
    tried: new Set<string>(),
  }));
  due.sort((a, b) => b.at - a.at);
  const schedule = (attempt: (typeof due)[number]) => {
    // Kept sorted latest first: the next attempt is the last element.
    let i = due.length;
    while (i > 0 && due[i - 1]!.at < attempt.at) i--;
    due.splice(i, 0, attempt);
  };
  for (let attempt = due.pop(); attempt; attempt = due.pop()) {
    const { otp, at, tried } = attempt;
    const country = scenario.countries.find((c) => c.code === otp.country);
    const carrier = country?.carriers.find((c) => c.id === otp.carrier);
    if (!country || !carrier) continue;
    const simTime = run.simulatedAt(at);
    const candidates = scenario.channels.filter(
      (c) => c.countries.includes(country.code) && !tried.has(c.id) && !down(c, at),
    );
    const maxPrice = Math.max(1e-9, ...candidates.map((c) => c.pricePerSegment));
    // A channel's queue (its TPS, the country's) is part of the latency it offers now.
    const best = candidates
      .map((channel) => {
        const model = world.model(channel, carrier.id, simTime);
        const limits: [string, number][] = [[`channel:${channel.id}`, world.tps(channel, simTime)]];
        if (country.tps) limits.push([`country:${country.code}`, country.tps]);
        const start = slotAt(at, limits);
        const score =
          WEIGHTS.delivery * model.deliveryRate -
          WEIGHTS.latency * Math.min((start - at + model.latency.p50) / LATENCY_REFERENCE_MS, 3) -
          WEIGHTS.cost * (channel.pricePerSegment / maxPrice);
        return { channel, limits, start, score };
      })
      .sort((a, b) => b.score - a.score)[0];
    if (!best || best.start - otp.sentAt > OTP_VALIDITY_MS) continue;
    take(best.start, best.limits);
    if (tried.size > 0) retries++;
    tried.add(best.channel.id);
    cost += best.channel.pricePerSegment;
    const fate = world.fate(
      {
        channel: best.channel,
        destination: { country, carrier, invalid: false },
        sender: run.options.sender ?? 'Tern',
        senderKind: 'alphanumeric',
        text: 'Your code is 000000',
        simTime: run.simulatedAt(best.start),
      },
      random,
    );
    if (fate.stat === 'DELIVRD') latencies.push(best.start + fate.latencyMs - otp.sentAt);
    else schedule({ otp, at: best.start + fate.latencyMs, tried });
  }
  return tallyRow('oracle (perfect knowledge)', {
    otps: otps.length,
    latencies,
    cost,
    retries,
    neverSubmitted: 0,
    sentTwice: 0,
  });
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
