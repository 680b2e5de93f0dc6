import { Status, type SmppSession } from '@tern/smpp';
import { waitFor } from '@tern/testing';
import { CarrierSimulator, loadScenario, quantiles, type ChannelTruth } from '../src';
import { bind, collectReceipts, connect, sms, type ReceivedReceipt } from './smpp-client';

// The industry ranges of the product brief, per tier: delivered share and latency.
const RANGES = {
  'direct-1': { delivered: [0.95, 0.99], latencyMs: [1000, 5000] },
  'aggregator-1': { delivered: [0.85, 0.95], latencyMs: [3000, 15000] },
  'indirect-1': { delivered: [0.7, 0.85], latencyMs: [5000, 30000] },
} as const;
const SUBMISSIONS = 5100;
const TIME_SCALE = 200; // receipts due after up to ~2 simulated minutes arrive within a second

describe('the tiers scenario over 5,000 submissions', () => {
  const base = loadScenario('tiers');
  // Free ports, so the test never collides with a simulator started by ./tern up.
  const scenario = { ...base, channels: base.channels.map((c) => ({ ...c, port: 0 })) };
  const sim = new CarrierSimulator({ scenario, timeScale: TIME_SCALE, seed: 20261125 });
  const sessions: SmppSession[] = [];
  const receipts: Record<string, ReceivedReceipt[]> = {};
  const numbers = scenario.countries.flatMap((c) =>
    c.carriers.map((k) => `${k.prefixes[0] ?? ''}${'1234567'.slice(0, 12 - (k.prefixes[0] ?? '').length)}`),
  );

  beforeAll(async () => {
    await sim.start();
    for (const channel of scenario.channels) {
      const s = await connect(sim.ports()[channel.id] ?? 0);
      sessions.push(s);
      receipts[channel.id] = collectReceipts(s);
      expect(await bind(s, 'transceiver', channel.systemId, channel.password)).toBe(Status.ESME_ROK);
    }
  });
  afterAll(async () => {
    await Promise.all(sessions.map((s) => s.unbind()));
    await sim.stop();
  });

  /** Submits like a polite ESME: on ESME_RTHROTTLED it waits and submits the same message again. */
  async function submit(s: SmppSession, destinationAddr: string, text: string): Promise<number> {
    let throttled = 0;
    for (;;) {
      const r = await s.request('submit_sm', sms({ destinationAddr, shortMessage: Buffer.from(text) }));
      if (r.status !== Status.ESME_RTHROTTLED) {
        expect(r.status).toBe(Status.ESME_ROK);
        return throttled;
      }
      throttled++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('delivers within each tier range, and the ground truth adds up exactly', async () => {
    // Round-robin over channels and destinations, 50 in flight per bind.
    const perChannel = SUBMISSIONS / sessions.length;
    const throttled = await Promise.all(
      sessions.map(async (s, c) => {
        let count = 0;
        for (let i = 0; i < perChannel; i += 50) {
          const batch = Array.from({ length: Math.min(50, perChannel - i) }, (_, k) =>
            submit(s, numbers[(i + k + c) % numbers.length] ?? '', `Code ${c}-${i + k}`),
          );
          count += (await Promise.all(batch)).reduce((a, b) => a + b, 0);
        }
        return count;
      }),
    );

    const settled = (t: ChannelTruth) => t.receiptsSent + t.receiptsLost === t.partsAccepted;
    await waitFor(
      'every receipt to be sent or lost',
      () => scenario.channels.every((c) => settled(sim.truth.channel(c.id))),
      60_000,
      200,
    );

    scenario.channels.forEach((channel, c) => {
      const t = sim.truth.channel(channel.id);
      // Throttled submissions were refused, counted, and submitted again: never accepted twice.
      expect(t.submitsRefused['ESME_RTHROTTLED'] ?? 0).toBe(throttled[c]);
      const range = RANGES[channel.id as keyof typeof RANGES];
      const messages = Object.values(t.messages).reduce((a, b) => a + b, 0);
      // Counts add up: every accepted submission became one message with one fate and one receipt (or a lost one).
      expect(t.partsAccepted).toBe(perChannel);
      expect(messages).toBe(t.partsAccepted);
      expect(t.receiptsSent + t.receiptsLost).toBe(t.partsAccepted);
      expect(receipts[channel.id]).toHaveLength(t.receiptsSent);
      expect(t.duplicates).toBe(0);
      // What the client saw is what the simulator recorded, state by state (lost receipts aside).
      const seen = (stat: string) => receipts[channel.id]?.filter((r) => r.text.stat === stat).length ?? 0;
      expect(seen('DELIVRD')).toBeLessThanOrEqual(t.messages.DELIVRD);
      expect(t.messages.DELIVRD - seen('DELIVRD')).toBeLessThanOrEqual(t.receiptsLost);

      const delivered = t.messages.DELIVRD / messages;
      const latency = quantiles(t.deliveredLatencyMs);
      process.stdout.write(
        `${channel.id}: delivered ${(delivered * 100).toFixed(1)}% of ${messages}, latency p50 ${((latency.p50 ?? 0) / 1000).toFixed(1)} s, p95 ${((latency.p95 ?? 0) / 1000).toFixed(1)} s, receipts lost ${t.receiptsLost}\n`,
      );
      expect(delivered).toBeGreaterThanOrEqual(range.delivered[0]);
      expect(delivered).toBeLessThanOrEqual(range.delivered[1]);
      expect(latency.p50).toBeGreaterThanOrEqual(range.latencyMs[0]);
      expect(latency.p95).toBeLessThanOrEqual(range.latencyMs[1]);
    });
  });
});
