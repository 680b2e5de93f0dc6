import { TokenBucket } from './token-bucket';

describe('TokenBucket', () => {
  it('allows a second of burst, then the rate', () => {
    const bucket = new TokenBucket(10, 0);
    const burst = Array.from({ length: 15 }, () => bucket.take(10, 0)).filter(Boolean).length;
    expect(burst).toBe(10);
    expect(bucket.take(10, 50)).toBe(false);
    expect(bucket.waitMs(10)).toBeGreaterThan(0);
    expect(bucket.take(10, 100)).toBe(true);
  });
});
