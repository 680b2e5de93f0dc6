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
  receiptWindowMs: setting(
    'TERN_DLR_RECEIPT_WINDOW_MS',
    'How long after submission a receipt is expected; then the attempt counts as failed and is retried',
    env.int(1000, 7 * 24 * 3_600_000).default(600_000),
  ),
  otpReceiptWindowMs: setting(
    'TERN_DLR_OTP_RECEIPT_WINDOW_MS',
    'The receipt window of OTPs (shorter: a code that has not arrived is better sent again)',
    env.int(1000, 24 * 3_600_000).default(120_000),
  ),
  inFlight: setting(
    'TERN_DLR_IN_FLIGHT',
    'Records per partition handled at once',
    env.int(1, 10_000).default(200),
  ),
};
