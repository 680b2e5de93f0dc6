/**
 * Token bucket: `rate` tokens per second, at most `burst` saved up (default one second's worth). The rate can
 * change per call (congestion on the SMSC side, a configured TPS on the client side).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    rate: number,
    now: number,
    private readonly burst = rate,
  ) {
    this.tokens = burst;
    this.last = now;
  }

  take(rate: number, now: number): boolean {
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token at this rate. */
  waitMs(rate: number): number {
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / rate) * 1000);
  }
}
