/**
 * Seeded randomness so that a scenario run with --seed draws the same fates for the same submissions.
 * mulberry32: a small, fast 32-bit generator with good statistical quality for simulation (not for secrets).
 */
export class Random {
  private state: number;
  private spare: number | undefined;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Standard normal (Box-Muller). */
  normal(): number {
    if (this.spare !== undefined) {
      const s = this.spare;
      this.spare = undefined;
      return s;
    }
    const u = 1 - this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal with the given median and 95th percentile: latencies are skewed with a long tail. */
  logNormal(p50: number, p95: number): number {
    const mu = Math.log(p50);
    const sigma = (Math.log(p95) - mu) / 1.6448536;
    return Math.exp(mu + sigma * this.normal());
  }

  /** One of the choices, with probability proportional to its weight. */
  pick<T>(choices: readonly (readonly [T, number])[]): T {
    const total = choices.reduce((s, [, w]) => s + w, 0);
    let x = this.next() * total;
    for (const [value, weight] of choices) {
      x -= weight;
      if (x < 0) return value;
    }
    const last = choices[choices.length - 1];
    if (!last) throw new Error('pick from no choices');
    return last[0];
  }
}
