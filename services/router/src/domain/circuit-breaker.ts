import { Heap } from 'heap-js';

/** Breaker state of one channel, or one channel towards one carrier. */
export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerPolicy {
  /** Outcomes looked at: those of the attempts sent within this window. */
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

/** An attempt's outcome, by when it was sent. */
interface Outcome {
  sentAt: number;
  ok: boolean;
}

/**
 * A circuit breaker fed by outcomes (submission results, receipts) with the time passed in, so it is pure
 * and testable: closed → open on a failure spike → half-open after `openMs` (a few probes) → closed after
 * the probes succeed, or open again on a probe's failure.
 *
 * An outcome counts by when its attempt was sent, not when it arrives: it says how the channel did when it
 * took the message. Failures come back later than deliveries (an expiry after the SMSC's retries, a receipt
 * that never came), so counted on arrival, the seconds after a burst of traffic hold its late failures and
 * none of its deliveries, and a healthy channel's breaker opened just as the next traffic came (3% failures
 * at 1,000 msg/s, a 30 s pause: 30 s without routing). An outcome whose attempt was sent before the window,
 * or before the breaker last opened or closed, says nothing of the channel now and is not counted.
 */
export class CircuitBreaker {
  /**
   * Outcomes of the attempts sent in the window, earliest sent first: late ones arrive out of order, and a
   * busy channel has tens of thousands in its window, so a heap (O(log n) an outcome in or out).
   */
  private readonly outcomes = new Heap<Outcome>((a, b) => a.sentAt - b.sentAt);
  private failuresInWindow = 0;
  /** When the breaker last opened or closed: outcomes of attempts sent before are not counted. */
  private countsFrom = Number.NEGATIVE_INFINITY;
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

  /** The outcome of an attempt sent at `sentAt`, known at `now`. */
  record(ok: boolean, sentAt: number, now: number): void {
    // Another process's clock may be a little ahead of ours.
    const at = Math.min(sentAt, now);
    if (at < this.countsFrom) return;
    const state = this.current(now);
    if (state === 'half-open') {
      if (!ok) return this.open(now);
      if (++this.probesSucceeded >= this.policy.probes) {
        this.state = 'closed';
        this.forget(now);
      }
      return;
    }
    if (state === 'open') return;
    const since = now - this.policy.windowMs;
    if (at < since) return;
    this.outcomes.push({ sentAt: at, ok });
    if (!ok) this.failuresInWindow++;
    while ((this.outcomes.peek()?.sentAt ?? since) < since) {
      if (!this.outcomes.pop()!.ok) this.failuresInWindow--;
    }
    const inWindow = this.outcomes.length;
    if (inWindow < this.policy.minOutcomes) return;
    if (this.failuresInWindow / inWindow >= this.policy.failureRatio) this.open(now);
  }

  private open(now: number): void {
    this.state = 'open';
    this.openedAt = now;
    this.forget(now);
  }

  private forget(now: number): void {
    this.outcomes.clear();
    this.failuresInWindow = 0;
    this.countsFrom = now;
  }
}
