import { createHash } from 'node:crypto';
import { z } from 'zod';
import { env, setting } from './config';
import { loadDataFile, readSecret, secretRef, watchDataFile } from './data-file';
import { PASSWORD_HASH } from './passwords';

/** Settings of services that know the tenants (ingest authenticates them, dlr signs their callbacks). */
export const tenantSettings = {
  tenantsFile: setting(
    'TERN_TENANTS_FILE',
    'YAML or JSON file of tenants: hashed API keys and SMPP passwords, event-signing and callback-signing keys (by reference), send rates',
    env.string(),
  ),
  tenantsReloadMs: setting(
    'TERN_TENANTS_RELOAD_MS',
    'How often the tenants file is read again (keys added or removed take effect without a restart)',
    env.int(500, 3_600_000).default(2000),
  ),
  allowPrivateCallbacks: setting(
    'TERN_CALLBACK_ALLOW_PRIVATE',
    'Allow status callbacks to loopback or private networks (local runs and tests only)',
    env.bool().default(false),
  ),
};

const tenantsFileSchema = z.object({
  tenants: z
    .array(
      z.object({
        id: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lowercase letters, digits, _ and -'),
        /** API keys by their SHA-256 (hex): the keys themselves are never stored or configured. */
        apiKeys: z
          .array(z.object({ id: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
          .default([]),
        /** HMAC secrets that sign this tenant's Kafka send events, by key id. */
        eventKeys: z.array(z.object({ id: z.string().min(1), secret: secretRef })).default([]),
        /** HMAC secret that signs the status callbacks sent to this tenant; without one, none are sent. */
        callbackSecret: secretRef.optional(),
        /**
         * While the callback secret is rotated: the old one, under which each callback is signed too, so the
         * tenant's receivers can switch secrets at their own pace. Removed once they have.
         */
        retiringCallbackSecret: secretRef.optional(),
        /** Accepted messages per second (token bucket shared by every ingest instance), and the burst. */
        sendRate: z.object({ perSecond: z.number().positive(), burst: z.number().int().min(1) }),
        /**
         * Accounts this tenant's ESMEs bind with to Tern's SMPP server: a system_id unique in the deployment,
         * the password's scrypt hash (`./tern smpp-password`), binds open at once, the window (submit_sm in
         * hand at once over its binds; beyond it: ESME_RTHROTTLED), and how its message ids are written.
         */
        smppAccounts: z
          .array(
            z.object({
              systemId: z.string().regex(/^[\x21-\x7e]{1,15}$/, '1 to 15 printable ASCII characters'),
              passwordHash: z
                .string()
                .regex(PASSWORD_HASH, 'scrypt$N$r$p$salt$key, from ./tern smpp-password'),
              maxBinds: z.number().int().min(1).max(1000).default(4),
              window: z.number().int().min(1).max(10_000).default(100),
              /** How its message ids are written (submit_sm_resp, receipts): the UUID, or the same 128 bits in hex or decimal. */
              messageIdFormat: z.enum(['uuid', 'hex', 'decimal']).default('uuid'),
            }),
          )
          .default([]),
      }),
    )
    .min(1),
});

export interface Tenant {
  id: string;
  sendRate: { perSecond: number; burst: number };
}

export interface SmppAccount {
  tenant: Tenant;
  systemId: string;
  passwordHash: string;
  maxBinds: number;
  window: number;
  messageIdFormat: 'uuid' | 'hex' | 'decimal';
}

/** Hex SHA-256 of an API key: what the tenants file holds. Keys are random and long, so no slow hash is needed. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

interface TenantState {
  tenants: Map<string, Tenant>;
  byKeyHash: Map<string, Tenant>;
  smppAccounts: Map<string, SmppAccount>;
  eventSecrets: Map<string, string>;
  callbackSecrets: Map<string, string[]>;
}

/**
 * The tenants of a deployment: API keys and SMPP accounts (hashed), event-signing and callback-signing
 * secrets, send rates.
 * A watched directory follows its file (and the secret files it names): a key added or removed takes
 * effect within seconds, without a restart, which is how keys are rotated (see docs/trust-model.md).
 */
export class TenantDirectory {
  private constructor(private state: TenantState) {}

  static load(path: string, env: NodeJS.ProcessEnv = process.env): TenantDirectory {
    return new TenantDirectory(build(path, loadDataFile(path, tenantsFileSchema, 'tenants'), env));
  }

  /**
   * Loads the file, then reads it again every `intervalMs`. A changed file that is invalid (or names a
   * secret that cannot be read) is refused with its error and the last good tenants stay in force.
   */
  static watch(
    path: string,
    options: { onRefused: (error: Error) => void; onChange?: () => void; intervalMs?: number },
    env: NodeJS.ProcessEnv = process.env,
  ): { directory: TenantDirectory; close: () => void } {
    const directory = TenantDirectory.load(path, env);
    const watched = watchDataFile(path, tenantsFileSchema, 'tenants', {
      ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
      onRefused: options.onRefused,
      // A build that throws (a key twice, a secret missing) is refused by the watcher; nothing changes.
      onChange: (file) => {
        directory.state = build(path, file, env);
        options.onChange?.();
      },
    });
    return { directory, close: () => watched.close() };
  }

  /** The tenant owning an API key, if any. The lookup is by hash, so its timing says nothing of the key. */
  authenticate(apiKey: string): Tenant | undefined {
    return this.state.byKeyHash.get(hashApiKey(apiKey));
  }

  /** The SMPP account of a system_id; its password is checked with verifyPassword. */
  smppAccount(systemId: string): SmppAccount | undefined {
    return this.state.smppAccounts.get(systemId);
  }

  /** Every SMPP account of every tenant. */
  smppAccounts(): SmppAccount[] {
    return [...this.state.smppAccounts.values()];
  }

  get(tenantId: string): Tenant | undefined {
    return this.state.tenants.get(tenantId);
  }

  eventSecret(tenantId: string, keyId: string): string | undefined {
    return this.state.eventSecrets.get(`${tenantId}\u0000${keyId}`);
  }

  /** The secrets that sign the tenant's callbacks: the current one, then a retiring one; none: no callbacks. */
  callbackSecrets(tenantId: string): readonly string[] {
    return this.state.callbackSecrets.get(tenantId) ?? [];
  }
}

function build(path: string, file: z.output<typeof tenantsFileSchema>, env: NodeJS.ProcessEnv): TenantState {
  const state: TenantState = {
    tenants: new Map(),
    byKeyHash: new Map(),
    smppAccounts: new Map(),
    eventSecrets: new Map(),
    callbackSecrets: new Map(),
  };
  for (const t of file.tenants) {
    if (state.tenants.has(t.id)) throw new Error(`tenants file ${path}: tenant ${t.id} appears twice`);
    const tenant: Tenant = { id: t.id, sendRate: t.sendRate };
    state.tenants.set(t.id, tenant);
    for (const key of t.apiKeys) {
      if (state.byKeyHash.has(key.sha256)) {
        throw new Error(`tenants file ${path}: API key ${key.id} of ${t.id} is already another key`);
      }
      state.byKeyHash.set(key.sha256, tenant);
    }
    for (const account of t.smppAccounts) {
      if (state.smppAccounts.has(account.systemId)) {
        throw new Error(`tenants file ${path}: SMPP system_id ${account.systemId} of ${t.id} is used twice`);
      }
      state.smppAccounts.set(account.systemId, { tenant, ...account });
    }
    for (const key of t.eventKeys) {
      state.eventSecrets.set(
        `${t.id}\u0000${key.id}`,
        readSecret(key.secret, `tenant ${t.id} event key ${key.id}`, env),
      );
    }
    if (t.callbackSecret) {
      state.callbackSecrets.set(t.id, [
        readSecret(t.callbackSecret, `tenant ${t.id} callback secret`, env),
        ...(t.retiringCallbackSecret
          ? [readSecret(t.retiringCallbackSecret, `tenant ${t.id} retiring callback secret`, env)]
          : []),
      ]);
    }
  }
  return state;
}
