import { commonSettings } from '@tern/config';

/** Settings of the router service (TERN_* environment variables); see `describeSettings`. */
export const routerSettings = { ...commonSettings };
