import { meanMargin, rateMargin, runSeed, samplesNeeded, trialsNeeded } from './stats';

describe('statistical margins of end-to-end targets', () => {
  it('measures a rate against its target in binomial standard deviations taken at the target', () => {
    // 400 OTPs, 398 delivered, target ≥ 97.6%: σ = sqrt(0.976 × 0.024 / 400) = 0.765%.
    const m = rateMargin('delivered', 398, 400, 0.976, 'atLeast');
    expect(m.value).toBeCloseTo(0.995, 6);
    expect(m.sigma).toBeCloseTo(0.007653, 5);
    expect(m.z).toBeCloseTo((0.995 - 0.976) / 0.007653, 2);
    expect(m.line).toBe('delivered: 99.5% of 400 (398), target ≥ 97.6%, σ 0.77%: 2.5σ inside');
  });

  it('counts an upper bound the other way, and a result outside the target as negative', () => {
    const lost = rateMargin('lost', 30, 1000, 0.015, 'atMost');
    expect(lost.z).toBeLessThan(0);
    expect(rateMargin('lost', 3, 1000, 0.015, 'atMost').z).toBeCloseTo(
      0.012 / Math.sqrt((0.015 * 0.985) / 1000),
      6,
    );
  });

  it('gives a perfect run a finite margin, and refuses an empty one', () => {
    expect(Number.isFinite(rateMargin('delivered', 50, 50, 0.98, 'atLeast').z)).toBe(true);
    expect(() => rateMargin('delivered', 0, 0, 0.98, 'atLeast')).toThrow(/no trials/);
  });

  it('measures a mean against its target with the standard error of the samples', () => {
    // Mean 3, sample standard deviation 1, n = 4: standard error 0.5; target ≤ 4 is 2σ inside.
    const m = meanMargin('latency', [2, 3, 3, 4], 4, 'atMost', ' s');
    expect(m.value).toBe(3);
    expect(m.sigma).toBeCloseTo(Math.sqrt(2 / 3 / 4), 9);
    expect(m.z).toBeCloseTo(1 / Math.sqrt(2 / 3 / 4), 9);
    expect(meanMargin('latency', [5, 5], 4, 'atMost').z).toBe(-Infinity);
  });

  it('plans the trials that put an expected rate several standard deviations inside its target', () => {
    const n = trialsNeeded(0.995, 0.976, 'atLeast', 3);
    expect(n).toBe(Math.ceil((9 * 0.976 * 0.024) / 0.019 ** 2));
    // At that many trials the expected rate is at least 3σ inside; one fewer falls short.
    expect(rateMargin('x', 0.995 * n, n, 0.976, 'atLeast').z).toBeGreaterThanOrEqual(3);
    expect(rateMargin('x', 0.995 * (n - 1), n - 1, 0.976, 'atLeast').z).toBeLessThan(3);
    expect(trialsNeeded(0.97, 0.976, 'atLeast', 3)).toBe(Infinity);
  });

  it('plans the samples that put an expected mean several standard errors inside its target', () => {
    // Expected 3,000 ms with a spread of 4,000 ms per sample, target ≤ 3,200 ms at 3σ: (3 × 4000 / 200)².
    const expected = { mean: 3_000, sd: 4_000 };
    const n = samplesNeeded(expected, 3_200, 'atMost', 3);
    expect(n).toBe(3_600);
    expect((3_200 - expected.mean) / (expected.sd / Math.sqrt(n))).toBeCloseTo(3, 9);
    expect((3_200 - expected.mean) / (expected.sd / Math.sqrt(n - 1))).toBeLessThan(3);
    expect(samplesNeeded({ mean: 10, sd: 5 }, 8, 'atLeast', 2)).toBe(25);
    expect(samplesNeeded({ mean: 3_300, sd: 4_000 }, 3_200, 'atMost', 3)).toBe(Infinity);
  });

  it('takes a seed to replay from TERN_E2E_SEED, and draws a new one otherwise', () => {
    expect(runSeed({ TERN_E2E_SEED: '42' })).toBe(42);
    expect(() => runSeed({ TERN_E2E_SEED: 'x' })).toThrow(/TERN_E2E_SEED/);
    const drawn = new Set(Array.from({ length: 20 }, () => runSeed({})));
    expect(drawn.size).toBeGreaterThan(1);
    for (const seed of drawn) expect(seed).toBeGreaterThan(0);
  });
});
