/**
 * Simulated time: `timeScale` simulated milliseconds pass per real millisecond, so a 30-minute scenario
 * with scale 10 runs in 3 minutes, its latencies and timeline included.
 */
export class SimClock {
  private readonly startReal: number;

  constructor(
    readonly timeScale: number,
    now: () => number = Date.now,
    private readonly realNow: () => number = now,
  ) {
    if (!(timeScale > 0)) throw new Error('time scale must be positive');
    this.startReal = now();
  }

  /** Simulated milliseconds since the scenario started. */
  now(): number {
    return (this.realNow() - this.startReal) * this.timeScale;
  }

  /** Real milliseconds until `simMs` of simulated time have passed. */
  realDelay(simMs: number): number {
    return Math.max(0, simMs / this.timeScale);
  }

  /** The wall-clock date of a simulated instant (the scenario starts at the real start time). */
  date(simMs: number): Date {
    return new Date(this.startReal + simMs);
  }
}
