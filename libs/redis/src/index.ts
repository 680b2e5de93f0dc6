export { redisHealth, sharedRedis } from './client';
export { execOrThrow, redisScript } from './script';
export { TokenBuckets, type Bucket, type Grant } from './token-buckets';
export * from './leased-schedule';
export * from './receipt-presence';
export * from './state-guard';
