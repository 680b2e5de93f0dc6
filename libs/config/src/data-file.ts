import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * Reads a deployment's data file (YAML or JSON: channels, tenants, policies, routing tables) and validates
 * it against its schema. A bad file throws one error naming the file and every offending path.
 */
export function loadDataFile<S extends z.ZodType>(path: string, schema: S, what: string): z.output<S> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(path, 'utf8'));
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
