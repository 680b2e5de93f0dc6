import { commonSettings } from '@tern/config';

/** Settings of the smpp-connector service (TERN_* environment variables); see `describeSettings`. */
export const smppConnectorSettings = { ...commonSettings };
