import { z } from 'zod';
import { env, setting } from './config';
import { loadDataFile, watchDataFile } from './data-file';
import { hashApiKey } from './tenants';

/**
 * Operators' roles, weakest first: a viewer reads (weights, reports, traces); an operator also acts
 * (replays dead letters, changes routing). Each role may do what the roles before it may.
 */
export const OPERATOR_ROLES = ['viewer', 'operator'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** Settings of services with an operators' API. */
export const operatorSettings = {
  operatorsFile: setting(
    'TERN_OPERATORS_FILE',
    'YAML or JSON file of operators: each with a role (viewer, operator) and hashed tokens; tenants’ API keys never open an operators’ API',
    env.string(),
  ),
};

const operatorsFileSchema = z.object({
  operators: z
    .array(
      z.object({
        id: z.string().min(1),
        role: z.enum(OPERATOR_ROLES),
        /** Tokens by their SHA-256 (hex), as tenants' API keys: several while one is being rotated. */
        tokens: z
          .array(z.object({ id: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
          .min(1),
      }),
    )
    .min(1),
});

export interface Operator {
  id: string;
  role: OperatorRole;
}

/** Whether a role may do what `needed` allows. */
export function roleAllows(role: OperatorRole, needed: OperatorRole): boolean {
  return OPERATOR_ROLES.indexOf(role) >= OPERATOR_ROLES.indexOf(needed);
}

/**
 * The operators of a deployment, found by the hash of a token they present. A watched directory follows
 * its file: a token added or removed takes effect within seconds, without a restart.
 */
export class OperatorDirectory {
  private constructor(private byTokenHash: ReadonlyMap<string, Operator>) {}

  static load(path: string): OperatorDirectory {
    return new OperatorDirectory(build(path, loadDataFile(path, operatorsFileSchema, 'operators')));
  }

  /** Loads the file and reads it again every `intervalMs`; a bad version is refused, the last good one kept. */
  static watch(
    path: string,
    options: { onRefused: (error: Error) => void; onChange?: () => void; intervalMs?: number },
  ): { directory: OperatorDirectory; close: () => void } {
    const directory = OperatorDirectory.load(path);
    const watched = watchDataFile(path, operatorsFileSchema, 'operators', {
      ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
      onRefused: options.onRefused,
      onChange: (file) => {
        directory.byTokenHash = build(path, file);
        options.onChange?.();
      },
    });
    return { directory, close: () => watched.close() };
  }

  /** The operator presenting a token, if any. The lookup is by hash, so its timing says nothing of the token. */
  authenticate(token: string): Operator | undefined {
    return this.byTokenHash.get(hashApiKey(token));
  }
}

function build(path: string, file: z.output<typeof operatorsFileSchema>): Map<string, Operator> {
  const byTokenHash = new Map<string, Operator>();
  const ids = new Set<string>();
  for (const o of file.operators) {
    if (ids.has(o.id)) throw new Error(`operators file ${path}: operator ${o.id} appears twice`);
    ids.add(o.id);
    for (const token of o.tokens) {
      if (byTokenHash.has(token.sha256)) {
        throw new Error(`operators file ${path}: token ${token.id} of ${o.id} is already another token`);
      }
      byTokenHash.set(token.sha256, { id: o.id, role: o.role });
    }
  }
  return byTokenHash;
}
