import {
  bulkPaceSettings,
  commonSettings,
  env,
  type FilesCheck,
  loadDataFile,
  redisSettings,
  setting,
  topicSettings,
  trafficClassSettings,
} from '@tern/config';
import { LATENCY_REFERENCE_MS } from '@tern/sms-domain';
import { routingTableSchema } from './domain/routing-table';
import { ROUTING_STRATEGIES } from './domain/select';
import { DEFAULT_BREAKER_POLICY } from './domain/circuit-breaker';

/** Settings of the router service (TERN_* environment variables); see `describeSettings`. */
export const routerSettings = {
  ...commonSettings,
  // A lane added to the routing table while running gets its dispatch topic from the router.
  ...topicSettings,
  ...bulkPaceSettings,
  ...trafficClassSettings,
  routingTableFile: setting(
    'TERN_ROUTING_TABLE_FILE',
    'YAML or JSON routing table: channels (tier, prices, TPS, sender types), country limits and lanes; reloaded when it changes',
    env.string(),
  ),
  routingTableReloadMs: setting(
    'TERN_ROUTING_TABLE_RELOAD_MS',
    'How often the routing table file is looked at for changes',
    env.int(100, 600_000).default(2000),
  ),
  ...redisSettings('shared by every router instance: rate limits, attempts per message, deferred messages'),
  deployment: setting(
    'TERN_ROUTER_DEPLOYMENT',
    'Name of this router deployment: its consumer groups are tern-router-<name>-priority and -bulk',
    env.string().default('main'),
  ),
  strategy: setting(
    'TERN_ROUTER_STRATEGY',
    'smart: live-weighted selection with breakers and failover; cheapest: the baseline (cheapest eligible channel, breakers ignored, one attempt only), for comparisons',
    env.oneOf(ROUTING_STRATEGIES).default('smart'),
  ),
  latencyReferenceMs: setting(
    'TERN_ROUTER_LATENCY_REFERENCE_MS',
    'The latency that costs an OTP as much as a delivered code is worth in the routing score (the tier priors’ latencies scale with it); lower it only for a world on a faster clock, as the time-scaled tests do',
    env.int(1, 600_000).default(LATENCY_REFERENCE_MS),
  ),
  maxAttempts: setting(
    'TERN_ROUTER_MAX_ATTEMPTS',
    'Attempts per message (the first included) before it is given up',
    env.int(1, 10).default(3),
  ),
  minRemainingMs: setting(
    'TERN_ROUTER_MIN_REMAINING_MS',
    'A retry is made only while the message has at least this much validity left',
    env.int(0, 3_600_000).default(5000),
  ),
  noChannelWaitMs: setting(
    'TERN_ROUTER_NO_CHANNEL_WAIT_MS',
    'How long a message waits for a channel when every eligible one has an open breaker (bounded by validity)',
    env.int(0, 3_600_000).default(60_000),
  ),
  priorityInFlight: setting(
    'TERN_ROUTER_PRIORITY_IN_FLIGHT',
    'OTP and transactional messages per partition being routed or waiting for a rate limit at once',
    env.int(1, 100_000).default(500),
  ),
  bulkInFlight: setting(
    'TERN_ROUTER_BULK_IN_FLIGHT',
    'Marketing messages per partition being routed or waiting for a rate limit at once (the rest wait in Kafka)',
    env.int(1, 100_000).default(2000),
  ),
  breakerWindowMs: setting(
    'TERN_ROUTER_BREAKER_WINDOW_MS',
    'A channel’s breaker looks at the outcomes of its attempts sent in this recent window (shorter: opens faster on a failure spike; an outcome later than this is not counted)',
    env.int(100, 3_600_000).default(DEFAULT_BREAKER_POLICY.windowMs),
  ),
  breakerOpenMs: setting(
    'TERN_ROUTER_BREAKER_OPEN_MS',
    'How long an open breaker keeps traffic away before letting probes through',
    env.int(100, 3_600_000).default(DEFAULT_BREAKER_POLICY.openMs),
  ),
  weightsMaxAgeMs: setting(
    'TERN_ROUTER_WEIGHTS_MAX_AGE_MS',
    'A routing weight analytics has not refreshed for this long is stale, and the tier’s prior applies instead',
    env.int(1000, 7 * 24 * 3_600_000).default(15 * 60_000),
  ),
};

/** The files router reads at start-up, read and validated the same way (`--check-config`). */
export const checkRouterFiles: FilesCheck<typeof routerSettings> = (config) => {
  loadDataFile(config.routingTableFile, routingTableSchema, 'routing table');
};
