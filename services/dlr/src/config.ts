import { commonSettings, env, setting } from '@tern/config';

/** Settings of the dlr service (TERN_* environment variables); see `describeSettings`. */
export const dlrSettings = {
  ...commonSettings,
  redisUrl: setting(
    'TERN_REDIS_URL',
    'Redis shared by every dlr instance: attempts, SMSC ids, receipts waiting for their submission',
    env.url(),
  ),
  deployment: setting(
    'TERN_DLR_DEPLOYMENT',
    'Name of this dlr deployment: its consumer groups are tern-dlr-<name>-submitted and -receipts',
    env.string().default('main'),
  ),
  inFlight: setting(
    'TERN_DLR_IN_FLIGHT',
    'Records per partition handled at once',
    env.int(1, 10_000).default(200),
  ),
};
