import { commonSettings } from '@tern/config';

/** Settings of the dlr service (TERN_* environment variables); see `describeSettings`. */
export const dlrSettings = { ...commonSettings };
