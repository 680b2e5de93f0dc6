/**
 * Seeded Beta draws for Thompson sampling, cheap enough to reseed per routing decision: a MINSTD
 * (Park-Miller) uniform source, Box-Muller normals and Marsaglia-Tsang gamma variates, Beta = Ga/(Ga+Gb).
 * We used @stdlib/random-base-beta before; reseeding it per decision rebuilt a Mersenne Twister and a
 * ziggurat sampler each time (most of the router's CPU), and its ziggurat kept a generator of its own that
 * the seed did not reach, so equal seeds did not give equal decisions.
 */
export class BetaSampler {
  private state: number;

  constructor(seed: number) {
    // MINSTD states are 1 .. 2^31-2.
    this.state = (Math.abs(Math.floor(seed)) % 2147483646) + 1;
  }

  /** Uniform in (0, 1), never 0 or 1. */
  uniform(): number {
    this.state = (this.state * 48271) % 2147483647;
    return this.state / 2147483647;
  }

  normal(): number {
    return Math.sqrt(-2 * Math.log(this.uniform())) * Math.cos(2 * Math.PI * this.uniform());
  }

  /** Gamma(shape, 1) by Marsaglia and Tsang (2000); shapes below 1 through the boost Ga(a) = Ga(a+1)·U^(1/a). */
  gamma(shape: number): number {
    if (shape < 1) return this.gamma(shape + 1) * Math.pow(this.uniform(), 1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (u < 1 - 0.0331 * x ** 4 || Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  beta(alpha: number, beta: number): number {
    const a = this.gamma(alpha);
    const b = this.gamma(beta);
    // Both can underflow to 0 for tiny shapes; the mean is the honest answer then.
    return a + b > 0 ? a / (a + b) : alpha / (alpha + beta);
  }
}
