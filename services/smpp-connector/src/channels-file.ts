import { loadDataFile, readSecret } from '@tern/config';
import { channelsFileSchema, type ChannelConfig } from './domain/channel';

export interface LoadedChannel {
  config: ChannelConfig;
  /** Kept apart from the config so that logging the config can never show it. */
  password: string;
}

/** Reads the channels file (YAML or JSON) and each channel's password from its env variable or secret file. */
export function loadChannels(path: string, env: NodeJS.ProcessEnv = process.env): LoadedChannel[] {
  return loadDataFile(path, channelsFileSchema, 'channels').channels.map((config) => ({
    config,
    password: readSecret(config.password, `channel ${config.id} password`, env),
  }));
}
