import {
  analyticsHashSettings,
  clickhouseSettings,
  commonSettings,
  env,
  type FilesCheck,
  grpcTlsSettings,
  OperatorDirectory,
  operatorSettings,
  setting,
} from '@tern/config';
import { LATENCY_REFERENCE_MS } from '@tern/sms-domain';
import { DEFAULT_CONVERSION_WINDOW_MS } from './domain/route-weights';

/** Settings of the analytics service (TERN_* environment variables); see `describeSettings`. */
export const analyticsSettings = {
  ...commonSettings,
  ...clickhouseSettings,
  ...operatorSettings,
  ...grpcTlsSettings,
  ...analyticsHashSettings,
  grpcPort: setting(
    'TERN_ANALYTICS_GRPC_PORT',
    'Port of the analytics read API (operators and dashboards; not for tenants); 0 picks a free one',
    env.port().default(50052),
  ),
  consolePort: setting(
    'TERN_CONSOLE_PORT',
    'Port of the operators’ web console (HTTPS on the gRPC certificate when one is set); 0 picks a free one',
    env.port().default(8088),
  ),
  prometheusUrl: setting(
    'TERN_PROMETHEUS_URL',
    'Prometheus that scrapes the routers and consumers: the console shows breaker states and consumer lag from it (unset: not shown)',
    env.url().optional(),
  ),
  // A new or changed route's first outcomes should reach the router within seconds: until they do, it draws
  // from the tier priors, which send a share of OTPs to routes that later figures show to be slow.
  intervalMs: setting(
    'TERN_ANALYTICS_INTERVAL_MS',
    'How often routing weights are recomputed and published',
    env.int(500, 3_600_000).default(2000),
  ),
  halfLifeMs: setting(
    'TERN_ANALYTICS_HALF_LIFE_MS',
    'Evidence loses half its weight in this time (shorter: faster reaction to a degrading or recovering channel)',
    env.int(1000, 7 * 24 * 3_600_000).default(180_000),
  ),
  windowMs: setting(
    'TERN_ANALYTICS_WINDOW_MS',
    'How far back route figures are read',
    env.int(60_000, 30 * 24 * 3_600_000).default(3_600_000),
  ),
  latencyWindowMs: setting(
    'TERN_ANALYTICS_LATENCY_WINDOW_MS',
    'Latency quantiles are taken over this recent window',
    env.int(60_000, 7 * 24 * 3_600_000).default(900_000),
  ),
  latencyReferenceMs: setting(
    'TERN_ANALYTICS_LATENCY_REFERENCE_MS',
    'The latency the tier priors’ figures are stated against (as TERN_ROUTER_LATENCY_REFERENCE_MS: the priors’ latencies scale with it); lower it only for a world on a faster clock, as the time-scaled tests do',
    env.int(1, 600_000).default(LATENCY_REFERENCE_MS),
  ),
  conversionWindowMs: setting(
    'TERN_ANALYTICS_CONVERSION_WINDOW_MS',
    'A delivered OTP whose code was not reported used within this time counts as not converted (tenants that report conversions)',
    env.int(1000, 24 * 3_600_000).default(DEFAULT_CONVERSION_WINDOW_MS),
  ),
  conversionRefreshMs: setting(
    'TERN_ANALYTICS_CONVERSION_REFRESH_MS',
    'Conversions are read from ClickHouse at most this often for the weights (the cycle’s dearest read; an OTP’s conversion counts only after TERN_ANALYTICS_CONVERSION_WINDOW_MS anyway)',
    env.int(100, 3_600_000).default(30_000),
  ),
  minCarrierAttempts: setting(
    'TERN_ANALYTICS_MIN_CARRIER_ATTEMPTS',
    'Attempts a carrier needs in the window to be judged on its own evidence and its tier’s prior alone',
    env.int(1, 1_000_000).default(50),
  ),
  carrierPriorStrength: setting(
    'TERN_ANALYTICS_CARRIER_PRIOR_ATTEMPTS',
    'Below that, a carrier starts from its channel’s figures in the country, worth as much as the channel’s carriers agree and at least this many attempts',
    env.int(1, 1_000_000).default(10),
  ),
};

/** The files analytics reads at start-up, read and validated the same way (`--check-config`). */
export const checkAnalyticsFiles: FilesCheck<typeof analyticsSettings> = (config) => {
  OperatorDirectory.load(config.operatorsFile);
};
