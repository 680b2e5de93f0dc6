import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { channelsFileSchema, type ChannelConfig } from './domain/channel';

export interface LoadedChannel {
  config: ChannelConfig;
  /** Kept apart from the config so that logging the config can never show it. */
  password: string;
}

/** Reads the channels file (YAML or JSON) and each channel's password from its env variable or secret file. */
export function loadChannels(path: string, env: NodeJS.ProcessEnv = process.env): LoadedChannel[] {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`channels file ${path}: ${(e as Error).message}`);
  }
  const parsed = channelsFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n');
    throw new Error(`channels file ${path} is invalid:\n${problems}`);
  }
  return parsed.data.channels.map((config) => {
    const source = config.password;
    let password: string | undefined;
    if ('env' in source) {
      password = env[source.env];
      if (!password) throw new Error(`channel ${config.id}: password variable ${source.env} is not set`);
    } else {
      try {
        password = readFileSync(source.file, 'utf8').trim();
      } catch {
        throw new Error(`channel ${config.id}: password file ${source.file} cannot be read`);
      }
    }
    return { config, password };
  });
}
