import {
  bulkPaceSettings,
  commonSettings,
  env,
  type FilesCheck,
  redisSettings,
  setting,
  trafficClassSettings,
} from '@tern/config';
import { loadChannels } from './channels-file';

/** Settings of the smpp-connector service (TERN_* environment variables). */
export const smppConnectorSettings = {
  ...commonSettings,
  ...bulkPaceSettings,
  ...trafficClassSettings,
  channelsFile: setting(
    'TERN_SMPP_CHANNELS_FILE',
    'YAML or JSON file of the SMPP channels this connector binds to; passwords are named there, not written',
    env.string(),
  ),
  lanes: setting(
    'TERN_LANES',
    'Dispatch lanes this connector consumes, comma-separated',
    env.list().default(['default']),
  ),
  ...redisSettings('for attempt idempotency, shared by every connector instance'),
  maxWaitForBindMs: setting(
    'TERN_SMPP_MAX_WAIT_FOR_BIND_MS',
    'How long a submission waits for a usable bind (outage, reconnect) before the attempt fails over',
    env.int(100, 3_600_000).default(120_000),
  ),
  downFailoverMs: setting(
    'TERN_SMPP_DOWN_FAILOVER_MS',
    'How long a submission waits while its channel has no bound bind at all (an outage, not a busy channel) before the attempt fails over; a reconnect blip is shorter',
    env.int(0, 3_600_000).default(5_000),
  ),
};

/** The files smpp-connector reads at start-up, read and validated the same way (`--check-config`). */
export const checkSmppConnectorFiles: FilesCheck<typeof smppConnectorSettings> = (config, environment) => {
  loadChannels(config.channelsFile, environment);
};
