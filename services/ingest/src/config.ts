import { commonSettings } from '@tern/config';

/** Settings of the ingest service (TERN_* environment variables); see `describeSettings`. */
export const ingestSettings = { ...commonSettings };
