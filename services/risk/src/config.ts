import { commonSettings } from '@tern/config';

/** Settings of the risk service (TERN_* environment variables); see `describeSettings`. */
export const riskSettings = { ...commonSettings };
