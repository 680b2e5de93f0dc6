import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** One environment variable: its schema, what it is for, and whether its value must never be shown. */
export interface Setting<T> {
  env: string;
  description: string;
  schema: z.ZodType<T>;
  secret?: boolean;
}

export type Settings = Record<string, Setting<unknown>>;
export type ConfigOf<S extends Settings> = { [K in keyof S]: S[K] extends Setting<infer T> ? T : never };

export function setting<T>(
  env: string,
  description: string,
  schema: z.ZodType<T>,
  secret = false,
): Setting<T> {
  return { env, description, schema, secret };
}

/** Every problem found in the environment, each naming its variable; thrown before the service starts. */
export class ConfigError extends Error {
  constructor(readonly problems: { env: string; problem: string }[]) {
    super(
      `invalid configuration:\n${problems.map((p) => `  ${p.env}: ${p.problem}`).join('\n')}\n` +
        'set these environment variables and start again',
    );
    this.name = 'ConfigError';
  }
}

export type Environment = Record<string, string | undefined>;

/**
 * Reads and validates every setting at once, so one start-up shows all mistakes. An empty string counts as
 * unset, so `FOO=` falls back to the default like an absent variable.
 */
export function loadConfig<S extends Settings>(settings: S, env: Environment = process.env): ConfigOf<S> {
  const problems: { env: string; problem: string }[] = [];
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings)) {
    const raw = env[s.env] === '' ? undefined : env[s.env];
    const parsed = s.schema.safeParse(raw);
    if (parsed.success) {
      out[key] = parsed.data;
    } else {
      const issue = parsed.error.issues[0];
      const problem = raw === undefined ? 'is required' : `${issue?.message ?? 'is invalid'}`;
      // A secret's value is never echoed back, even when it is wrong.
      problems.push({
        env: s.env,
        problem: s.secret || raw === undefined ? problem : `${problem} (got "${raw}")`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<S>;
}

/**
 * Reads every file a service's settings name, as its start-up will: throws naming the file and what is wrong
 * with it. Files that are only opened (certificates, CA bundles) are checked by `checkConfig` itself.
 */
export type FilesCheck<S extends Settings> = (config: ConfigOf<S>, env: Environment) => void;

/**
 * Whether a service would get past its configuration with this environment (`--check-config`, and the Helm
 * chart's tests): every setting valid, every `*_FILE` setting a readable file, and the files the service
 * reads (tenants, policies, tables, channels and the secrets they name) valid. Returns the problems found;
 * none means a start would not stop on configuration.
 */
export function checkConfig<S extends Settings>(
  settings: S,
  checkFiles: FilesCheck<S> | undefined,
  env: Environment = process.env,
): string[] {
  let config: ConfigOf<S>;
  try {
    config = loadConfig(settings, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map((p) => `${p.env}: ${p.problem}`);
    throw error;
  }
  const problems: string[] = [];
  for (const [key, s] of Object.entries(settings)) {
    const path = config[key as keyof S];
    if (!s.env.endsWith('_FILE') || typeof path !== 'string') continue;
    try {
      readFileSync(path);
    } catch {
      problems.push(`${s.env}: ${path} cannot be read`);
    }
  }
  if (problems.length > 0) return problems;
  try {
    checkFiles?.(config, env);
  } catch (error) {
    problems.push(error instanceof Error ? error.message : String(error));
  }
  return problems;
}

/** The loaded values with secrets masked: safe to log at start-up. */
export function redactConfig<S extends Settings>(settings: S, config: ConfigOf<S>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(settings)) {
    out[s.env] = s.secret ? '[redacted]' : config[key as keyof S];
  }
  return out;
}

/** Human help for a service's settings (`--help-config`). */
export function describeSettings(settings: Settings): string {
  return Object.values(settings)
    .map((s) => `${s.env}${s.secret ? ' (secret)' : ''}\n    ${s.description}`)
    .join('\n');
}

/** Schema helpers for the value shapes our settings use. */
export const env = {
  string: () => z.string().min(1),
  int: (min = Number.MIN_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER) =>
    z
      .string()
      .regex(/^-?\d+$/, 'must be a whole number')
      .transform(Number)
      .pipe(z.number().int().min(min).max(max)),
  port: () => env.int(0, 65535),
  /** A share, 0 to 1 (e.g. 0.1). */
  ratio: () =>
    z
      .string()
      .regex(/^(0(\.\d+)?|1(\.0+)?|\.\d+)$/, 'must be a number from 0 to 1')
      .transform(Number),
  bool: () =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .transform((v) => v === 'true' || v === '1'),
  list: () =>
    z
      .string()
      .transform((v) =>
        v
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s.length > 0),
      )
      .pipe(z.array(z.string()).min(1, 'must list at least one value')),
  url: () => z.url({ message: 'must be a URL' }),
  oneOf: <T extends readonly [string, ...string[]]>(values: T) =>
    z.enum(values, { message: `must be one of ${values.join(', ')}` }),
};
