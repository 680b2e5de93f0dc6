/** Breaker state of one channel, or one channel towards one carrier. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerPolicy {
  /** Outcomes looked at: the most recent ones within this window. */
  windowMs: number;
  /** Fewer outcomes than this in the window never open the breaker (one failure of two is no spike). */
  minOutcomes: number;
  /** Failure ratio in the window that opens the breaker. */
  failureRatio: number;
  /** How long an open breaker stays open before letting probes through. */
  openMs: number;
  /** Probes allowed while half-open; this many successes close it, one failure reopens it. */
  probes: number;
}

export const DEFAULT_BREAKER_POLICY: BreakerPolicy = {
  windowMs: 30_000,
  minOutcomes: 20,
  failureRatio: 0.5,
  openMs: 15_000,
  probes: 5,
};

/**
 * A circuit breaker fed by outcomes (submission results, receipts) with the time passed in, so it is pure
 * and testable: closed → open on a failure spike → half-open after `openMs` (a few probes) → closed after
 * the probes succeed, or open again on a probe's failure.
 */
export class CircuitBreaker {
  private outcomes: { at: number; ok: boolean }[] = [];
  private state: BreakerState = 'closed';
  private openedAt = 0;
  private probesSent = 0;
  private probesSucceeded = 0;
  private lastProbeAt = 0;

  constructor(private readonly policy: BreakerPolicy = DEFAULT_BREAKER_POLICY) {}

  /** The state at `now` (an open breaker becomes half-open once its time is up). */
  current(now: number): BreakerState {
    if (this.state === 'open' && now - this.openedAt >= this.policy.openMs) {
      this.state = 'half-open';
      this.probesSent = 0;
      this.probesSucceeded = 0;
    }
    return this.state;
  }

  /**
   * Whether traffic may go now. Half-open, only while probes are left; probes whose outcome never came
   * (a lost message) are given back after `openMs`, so the breaker cannot stay half-open for good.
   */
  allows(now: number): boolean {
    const state = this.current(now);
    if (state === 'closed') return true;
    if (state === 'open') return false;
    if (this.probesSent >= this.policy.probes && now - this.lastProbeAt >= this.policy.openMs) {
      this.probesSent = 0;
    }
    return this.probesSent < this.policy.probes;
  }

  /** Traffic was sent: in half-open, it is one of the probes. Checking eligibility takes none. */
  sent(now: number): void {
    if (this.current(now) !== 'half-open') return;
    this.probesSent++;
    this.lastProbeAt = now;
  }

  record(ok: boolean, now: number): void {
    const state = this.current(now);
    if (state === 'half-open') {
      if (!ok) return this.open(now);
      if (++this.probesSucceeded >= this.policy.probes) {
        this.state = 'closed';
        this.outcomes = [];
      }
      return;
    }
    if (state === 'open') return;
    this.outcomes.push({ at: now, ok });
    const since = now - this.policy.windowMs;
    while (this.outcomes.length > 0 && (this.outcomes[0]?.at ?? now) < since) this.outcomes.shift();
    if (this.outcomes.length < this.policy.minOutcomes) return;
    const failures = this.outcomes.reduce((n, o) => n + (o.ok ? 0 : 1), 0);
    if (failures / this.outcomes.length >= this.policy.failureRatio) this.open(now);
  }

  private open(now: number): void {
    this.state = 'open';
    this.openedAt = now;
    this.outcomes = [];
  }
}
