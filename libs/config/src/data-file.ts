import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Reads a deployment's data file (YAML or JSON: channels, tenants, policies, routing tables) and validates
 * it against its schema. A bad file throws one error naming the file and every offending path.
 */
export function loadDataFile<S extends z.ZodType>(path: string, schema: S, what: string): z.output<S> {
  return parseDataFile(path, readText(path, what), schema, what);
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`${what} file ${path}: ${(e as Error).message}`);
  }
}

function parseDataFile<S extends z.ZodType>(
  path: string,
  text: string,
  schema: S,
  what: string,
): z.output<S> {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (e) {
    throw new Error(`${what} file ${path}: ${(e as Error).message}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('\n');
    throw new Error(`${what} file ${path} is invalid:\n${problems}`);
  }
  return parsed.data;
}

export interface WatchedDataFile<T> {
  /** The last good contents. */
  current(): T;
  close(): void;
}

export interface WatchOptions<T> {
  /** How often the file is looked at (a mounted ConfigMap changes by a symlink swap, which events miss). */
  intervalMs?: number;
  /** A new version was validated and is now current. */
  onChange?: (value: T) => void;
  /** A new version was refused; the last good one stays current. */
  onRefused: (error: Error) => void;
}

/**
 * A data file that is reloaded when its text changes, without a restart. The first read must succeed
 * (a bad file at start-up stops the service); afterwards a bad version is refused with its error and the
 * last good contents stay in force, until a good version replaces them.
 */
export function watchDataFile<S extends z.ZodType>(
  path: string,
  schema: S,
  what: string,
  options: WatchOptions<z.output<S>>,
): WatchedDataFile<z.output<S>> {
  let text = readText(path, what);
  let value = parseDataFile(path, text, schema, what);
  let refusedText: string | undefined;
  const timer = setInterval(() => {
    let next: string;
    try {
      next = readText(path, what);
    } catch (e) {
      // Mid-swap or deleted: keep what we have, say so once per distinct problem.
      if (refusedText !== '') options.onRefused(e as Error);
      refusedText = '';
      return;
    }
    if (next === text || next === refusedText) return;
    try {
      value = parseDataFile(path, next, schema, what);
      text = next;
      refusedText = undefined;
      options.onChange?.(value);
    } catch (e) {
      refusedText = next;
      options.onRefused(e as Error);
    }
  }, options.intervalMs ?? 2000);
  timer.unref();
  return { current: () => value, close: () => clearInterval(timer) };
}

/** Where a secret comes from: an environment variable or a mounted secret file. Never inline in a data file. */
export const secretRef = z.union([
  z.object({ env: z.string().min(1) }).strict(),
  z.object({ file: z.string().min(1) }).strict(),
]);
export type SecretRef = z.infer<typeof secretRef>;

/** Reads a secret; the error names where it was looked for, never its value. */
export function readSecret(ref: SecretRef, owner: string, env: NodeJS.ProcessEnv = process.env): string {
  if ('env' in ref) {
    const value = env[ref.env];
    if (!value) throw new Error(`${owner}: secret variable ${ref.env} is not set`);
    return value;
  }
  try {
    const value = readFileSync(ref.file, 'utf8').trim();
    if (value) return value;
  } catch {
    // reported below, without the cause's text (it can quote file contents on some platforms)
  }
  throw new Error(`${owner}: secret file ${ref.file} cannot be read or is empty`);
}
