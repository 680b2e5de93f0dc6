import { commonSettings } from '@tern/config';

/** Settings of the analytics service (TERN_* environment variables); see `describeSettings`. */
export const analyticsSettings = { ...commonSettings };
