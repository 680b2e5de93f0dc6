import {
  analyticsHashSettings,
  clickhouseSettings,
  commonSettings,
  env,
  type FilesCheck,
  redisSettings,
  setting,
  TenantDirectory,
  tenantSettings,
} from '@tern/config';

/** Settings of the dlr service (TERN_* environment variables); see `describeSettings`. */
export const dlrSettings = {
  ...commonSettings,
  ...tenantSettings,
  ...clickhouseSettings,
  ...analyticsHashSettings,
  ...redisSettings('shared by every dlr instance: attempts, SMSC ids, receipts waiting for their submission'),
  deployment: setting(
    'TERN_DLR_DEPLOYMENT',
    'Name of this dlr deployment: its consumer groups are tern-dlr-<name>-submitted, -receipts, -attempts and -callbacks',
    env.string().default('main'),
  ),
  receiptWindowMs: setting(
    'TERN_DLR_RECEIPT_WINDOW_MS',
    'Receipt window of attempts whose channel names none: then the attempt counts as failed and is retried',
    env.int(1000, 7 * 24 * 3_600_000).default(600_000),
  ),
  otpReceiptWindowMs: setting(
    'TERN_DLR_OTP_RECEIPT_WINDOW_MS',
    'The same for OTPs (shorter: a code that has not arrived is better sent again)',
    env.int(1000, 24 * 3_600_000).default(120_000),
  ),
  unmatchedReceiptMs: setting(
    'TERN_DLR_UNMATCHED_RECEIPT_MS',
    'How long a receipt waits for its submission before it is dead-lettered (sms.dlr.dlq, UNMATCHED_RECEIPT)',
    env.int(1000, 3 * 24 * 3_600_000).default(3_600_000),
  ),
  inDoubtGraceMs: setting(
    'TERN_DLR_IN_DOUBT_GRACE_MS',
    'How long a delivery receipt waits for its own submission before it may go to the attempt in doubt to its handset; an attempt in doubt waits as long for its receipt before it is retried',
    env.int(500, 3_600_000).default(20_000),
  ),
  inFlight: setting(
    'TERN_DLR_IN_FLIGHT',
    'Records per partition handled at once (submissions and receipts: in calls of up to 50)',
    // A call's Redis round trips, queued on dlr's connection, take up to a second or two on a saturated
    // machine: at 200 (four calls), receipts waited 2.5-5 s at the median for dlr to take them; at 1,000,
    // 0.1 s.
    env.int(1, 10_000).default(1000),
  ),
  attemptBatchRows: setting(
    'TERN_DLR_ATTEMPT_BATCH_ROWS',
    'Attempt rows written to ClickHouse in one insert at most',
    env.int(1, 100_000).default(2000),
  ),
  attemptBatchLingerMs: setting(
    'TERN_DLR_ATTEMPT_BATCH_LINGER_MS',
    'How long an attempt row waits for others to share its insert',
    env.int(1, 60_000).default(1000),
  ),
  fetchGatherMs: setting(
    'TERN_DLR_FETCH_GATHER_MS',
    'How long submissions, receipts and attempt rows gather between fetches (a status is later by at most this)',
    env.int(0, 1000).default(50),
  ),
  callbackTimeoutMs: setting(
    'TERN_CALLBACK_TIMEOUT_MS',
    'How long one status callback POST may take before it counts as failed',
    env.int(100, 60_000).default(5000),
  ),
  callbackRetryBaseMs: setting(
    'TERN_CALLBACK_RETRY_BASE_MS',
    'Wait before the second try of a failed callback; doubled each try up to TERN_CALLBACK_RETRY_MAX_MS',
    env.int(10, 3_600_000).default(2000),
  ),
  callbackRetryMaxMs: setting(
    'TERN_CALLBACK_RETRY_MAX_MS',
    'Longest wait between two tries of a callback',
    env.int(10, 24 * 3_600_000).default(600_000),
  ),
  callbackGiveUpMs: setting(
    'TERN_CALLBACK_GIVE_UP_MS',
    'How long after its first try a callback is abandoned',
    env.int(1000, 7 * 24 * 3_600_000).default(24 * 3_600_000),
  ),
  callbackTenantConcurrency: setting(
    'TERN_CALLBACK_TENANT_CONCURRENCY',
    'Callbacks of one tenant in flight at once per instance; more wait their turn, so a slow receiver holds up only its own',
    env.int(1, 1000).default(16),
  ),
};

/** The files dlr reads at start-up, read and validated the same way (`--check-config`). */
export const checkDlrFiles: FilesCheck<typeof dlrSettings> = (config, environment) => {
  TenantDirectory.load(config.tenantsFile, environment);
};
