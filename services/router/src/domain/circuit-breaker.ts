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
  /** Outcomes in the window, oldest first from `head` (dropped ones are cut off in bulk, not one by one). */
  private outcomes: { at: number; ok: boolean }[] = [];
  private head = 0;
  private failuresInWindow = 0;
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
        this.forget();
      }
      return;
    }
    if (state === 'open') return;
    // Constant time per outcome: a busy channel has tens of thousands in its window.
    this.outcomes.push({ at: now, ok });
    if (!ok) this.failuresInWindow++;
    const since = now - this.policy.windowMs;
    while (this.head < this.outcomes.length && this.outcomes[this.head]!.at < since) {
      if (!this.outcomes[this.head]!.ok) this.failuresInWindow--;
      this.head++;
    }
    if (this.head > 1024 && this.head * 2 > this.outcomes.length) {
      this.outcomes = this.outcomes.slice(this.head);
      this.head = 0;
    }
    const inWindow = this.outcomes.length - this.head;
    if (inWindow < this.policy.minOutcomes) return;
    if (this.failuresInWindow / inWindow >= this.policy.failureRatio) this.open(now);
  }

  private open(now: number): void {
    this.state = 'open';
    this.openedAt = now;
    this.forget();
  }

  private forget(): void {
    this.outcomes = [];
    this.head = 0;
    this.failuresInWindow = 0;
  }
}
