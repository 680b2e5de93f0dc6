export { redisHealth, sharedRedis } from './client';
export { batchedRedisScript, execOrThrow, ITEMS_PER_CALL, redisScript, type ScriptItem } from './script';
export { TokenBuckets, type Bucket, type Grant } from './token-buckets';
export * from './leased-schedule';
export * from './channel-backlog';
export * from './receipt-presence';
export * from './state-guard';
