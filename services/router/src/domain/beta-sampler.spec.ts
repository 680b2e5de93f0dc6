import { BetaSampler } from './beta-sampler';

describe('BetaSampler', () => {
  const moments = (alpha: number, beta: number, n = 40_000) => {
    const sampler = new BetaSampler(12345);
    const xs = Array.from({ length: n }, () => sampler.beta(alpha, beta));
    const mean = xs.reduce((s, x) => s + x, 0) / n;
    const variance = xs.reduce((s, x) => s + (x - mean) ** 2, 0) / n;
    return { mean, variance, min: Math.min(...xs), max: Math.max(...xs) };
  };

  it.each([
    [9.7, 0.3],
    [2, 5],
    [0.5, 0.5],
    [95, 5],
    [1, 1],
  ])('draws Beta(%d, %d) with its mean and variance', (a, b) => {
    const { mean, variance, min, max } = moments(a, b);
    const trueMean = a / (a + b);
    const trueVariance = (a * b) / ((a + b) ** 2 * (a + b + 1));
    expect(mean).toBeCloseTo(trueMean, 2);
    expect(Math.abs(variance - trueVariance) / trueVariance).toBeLessThan(0.05);
    expect(min).toBeGreaterThanOrEqual(0);
    expect(max).toBeLessThanOrEqual(1);
  });

  it('repeats itself for a seed, and differs between seeds', () => {
    const draws = (seed: number) => {
      const s = new BetaSampler(seed);
      return [s.beta(3, 2), s.beta(0.4, 7), s.beta(50, 50)];
    };
    expect(draws(7)).toEqual(draws(7));
    expect(draws(7)).not.toEqual(draws(8));
  });

  it('stays a number for the tiniest shapes', () => {
    expect(Number.isNaN(new BetaSampler(1).beta(1e-3, 1e-3))).toBe(false);
  });
});
