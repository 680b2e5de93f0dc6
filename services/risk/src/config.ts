import {
  bulkPaceSettings,
  commonSettings,
  env,
  type FilesCheck,
  loadDataFile,
  redisSettings,
  setting,
  trafficClassSettings,
} from '@tern/config';
import { riskPolicySchema } from './domain/policy';

/** Settings of the risk service (TERN_* environment variables); see `describeSettings`. */
export const riskSettings = {
  ...commonSettings,
  policyFile: setting(
    'TERN_RISK_POLICY_FILE',
    'YAML or JSON risk policy: countries, tenants, content rules, limits, fraud screens; reloaded when it changes',
    env.string(),
  ),
  policyReloadMs: setting(
    'TERN_RISK_POLICY_RELOAD_MS',
    'How often the policy file is looked at for changes',
    env.int(100, 600_000).default(2000),
  ),
  ...bulkPaceSettings,
  ...trafficClassSettings,
  ...redisSettings('shared by every risk instance: rate windows, paces, opt-out lists'),
  deployment: setting(
    'TERN_RISK_DEPLOYMENT',
    'Name of this risk deployment: its consumer groups are tern-risk-<name>-*',
    env.string().default('main'),
  ),
  inFlight: setting(
    'TERN_RISK_IN_FLIGHT',
    'Messages per partition screened at once',
    env.int(1, 10_000).default(200),
  ),
};

/** The files risk reads at start-up, read and validated the same way (`--check-config`). */
export const checkRiskFiles: FilesCheck<typeof riskSettings> = (config) => {
  loadDataFile(config.policyFile, riskPolicySchema, 'risk policy');
};
