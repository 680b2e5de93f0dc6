import { randomUUID } from 'node:crypto';
import { infraFromEnv } from '@tern/testing';
import { Redis } from 'ioredis';
import { TokenBuckets } from '../src';

// Against the real Redis: the buckets' whole point is being exact across connections (instances).
describe('TokenBuckets', () => {
  const redis = new Redis(infraFromEnv().redisUrl);
  const other = new Redis(infraFromEnv().redisUrl);
  afterAll(async () => {
    await Promise.all([redis.quit(), other.quit()]);
  });
  const fresh = (perSecond: number, burst: number) => ({ key: randomUUID(), perSecond, burst });

  it('grants what the bucket holds, on its clock, and says when the next token comes', async () => {
    const buckets = new TokenBuckets(redis, 'test:tb:');
    const bucket = fresh(2, 5);
    const [seconds, micros] = await redis.time();
    const first = await buckets.take([bucket], 3);
    expect(first).toMatchObject({ granted: 3, retryAfterMs: 0 });
    // Stamped on Redis's clock, when it took them (this machine's clock is Redis's here).
    expect(first.at).toBeGreaterThanOrEqual(Number(seconds) * 1000 + Math.floor(Number(micros) / 1000));
    expect(first.at).toBeLessThanOrEqual(Date.now());
    const cut = await buckets.take([bucket], 4);
    expect(cut.granted).toBe(2);
    expect(cut.retryAfterMs).toBeGreaterThan(0);
    expect(cut.retryAfterMs).toBeLessThanOrEqual(500);
  });

  it('takes from every bucket or none, limited by the emptiest', async () => {
    const buckets = new TokenBuckets(redis, 'test:tb:');
    const country = fresh(100, 100);
    const channel = fresh(1, 2);
    expect((await buckets.take([country, channel], 5)).granted).toBe(2);
    expect((await buckets.take([country, channel], 5)).granted).toBe(0);
    // The country kept what the channel could not use (and refills 1 token per 10 ms meanwhile).
    const rest = (await buckets.take([country], 200)).granted;
    expect(rest).toBeGreaterThanOrEqual(98);
    expect(rest).toBeLessThanOrEqual(100);
  });

  it('keeps the reserve for callers that ask without one', async () => {
    const buckets = new TokenBuckets(redis, 'test:tb:');
    const bucket = fresh(1, 10);
    const lowClass = { ...bucket, reserve: 4 };
    expect((await buckets.take([lowClass], 10)).granted).toBe(6);
    const refused = await buckets.take([lowClass], 1);
    expect(refused.granted).toBe(0);
    expect(refused.retryAfterMs).toBeGreaterThan(0);
    expect((await buckets.take([bucket], 10)).granted).toBe(4);
  });

  it('is exact when two connections race for the same bucket', async () => {
    const bucket = fresh(0.001, 50);
    const a = new TokenBuckets(redis, 'test:tb:');
    const b = new TokenBuckets(other, 'test:tb:');
    const grants = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).take([bucket], 1)),
    );
    expect(grants.reduce((n, g) => n + g.granted, 0)).toBe(50);
  });
});
