// How far inside its target a measured result sits, in standard deviations, so that an end-to-end suite
// asserts targets it meets by a margin chance will not erase, and says so. Pure arithmetic, unit-tested.

export type Direction = 'atLeast' | 'atMost';

export interface Margin {
  /** The measured value (a rate, or a mean). */
  value: number;
  target: number;
  direction: Direction;
  /** The standard deviation of the measurement. */
  sigma: number;
  /** Standard deviations inside the target (negative: outside it). */
  z: number;
  /** One line for the suite's report. */
  line: string;
}

/**
 * A rate target (delivered ≥ 97.6%, lost < 1.5%): the binomial standard deviation is taken at the target,
 * where it is widest near it and never zero (a run that delivered every OTP still has a spread).
 */
export function rateMargin(
  label: string,
  successes: number,
  trials: number,
  target: number,
  direction: Direction,
): Margin {
  if (trials <= 0) throw new Error(`${label}: no trials`);
  const value = successes / trials;
  const sigma = Math.sqrt((target * (1 - target)) / trials);
  const z = inside(value, target, direction) / sigma;
  const line = `${label}: ${pct(value)} of ${trials} (${successes}), target ${symbol(direction)} ${pct(target)}, σ ${pct(sigma)}: ${z.toFixed(1)}σ inside`;
  return { value, target, direction, sigma, z, line };
}

/** A mean target (mean latency ≤ 3.2 s): the standard error of the mean of the samples. */
export function meanMargin(
  label: string,
  samples: readonly number[],
  target: number,
  direction: Direction,
  unit = '',
): Margin {
  if (samples.length < 2) throw new Error(`${label}: fewer than two samples`);
  const value = samples.reduce((s, x) => s + x, 0) / samples.length;
  const variance = samples.reduce((s, x) => s + (x - value) ** 2, 0) / (samples.length - 1);
  const sigma = Math.sqrt(variance / samples.length);
  const z =
    sigma === 0
      ? inside(value, target, direction) >= 0
        ? Infinity
        : -Infinity
      : inside(value, target, direction) / sigma;
  const line = `${label}: mean ${round(value)}${unit} of ${samples.length}, target ${symbol(direction)} ${round(target)}${unit}, σ ${round(sigma)}${unit}: ${z.toFixed(1)}σ inside`;
  return { value, target, direction, sigma, z, line };
}

/**
 * Trials a suite needs so that a rate it expects (from its recorded runs) sits `z` standard deviations
 * inside the target. Infinite where the expected rate does not meet the target at all.
 */
export function trialsNeeded(expected: number, target: number, direction: Direction, z: number): number {
  const gap = inside(expected, target, direction);
  if (gap <= 0) return Infinity;
  return Math.ceil((z * z * target * (1 - target)) / (gap * gap));
}

/**
 * Samples a suite needs so that a mean it expects sits `z` standard errors inside the target, given the
 * spread of one sample (both from its recorded runs): n = (z·sd / gap)². Infinite where the expected mean
 * does not meet the target at all.
 */
export function samplesNeeded(
  expected: { mean: number; sd: number },
  target: number,
  direction: Direction,
  z: number,
): number {
  const gap = inside(expected.mean, target, direction);
  if (gap <= 0) return Infinity;
  return Math.ceil(((z * expected.sd) / gap) ** 2);
}

/** A seed for a run: TERN_E2E_SEED replays a failed run's draws; otherwise a new one each run. */
export function runSeed(env: NodeJS.ProcessEnv = process.env): number {
  const given = env['TERN_E2E_SEED'];
  if (given !== undefined && given !== '') {
    const seed = Number(given);
    if (!Number.isInteger(seed) || seed <= 0 || seed > 0xffffffff)
      throw new Error(`TERN_E2E_SEED must be a whole number from 1 to 4294967295 (got "${given}")`);
    return seed;
  }
  return (Math.floor(Math.random() * 0xfffffffe) + 1) >>> 0;
}

const inside = (value: number, target: number, direction: Direction) =>
  direction === 'atLeast' ? value - target : target - value;
const symbol = (direction: Direction) => (direction === 'atLeast' ? '≥' : '≤');
const pct = (x: number) => `${(x * 100).toFixed(x < 0.01 ? 2 : 1)}%`;
const round = (x: number) => (Math.abs(x) >= 100 ? Math.round(x).toString() : x.toFixed(2));
