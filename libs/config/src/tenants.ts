import { createHash } from 'node:crypto';
import { z } from 'zod';
import { env, setting } from './config';
import { loadDataFile, readSecret, secretRef } from './data-file';

/** Settings of services that know the tenants (ingest authenticates them, dlr signs their callbacks). */
export const tenantSettings = {
  tenantsFile: setting(
    'TERN_TENANTS_FILE',
    'YAML or JSON file of tenants: hashed API keys, event-signing and callback-signing keys (by reference), send rates',
    env.string(),
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
        /** Accepted messages per second (token bucket shared by every ingest instance), and the burst. */
        sendRate: z.object({ perSecond: z.number().positive(), burst: z.number().int().min(1) }),
      }),
    )
    .min(1),
});

export interface Tenant {
  id: string;
  sendRate: { perSecond: number; burst: number };
}

/** Hex SHA-256 of an API key: what the tenants file holds. Keys are random and long, so no slow hash is needed. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** The tenants of a deployment: API keys (hashed), event-signing and callback-signing secrets, send rates. */
export class TenantDirectory {
  private readonly tenants = new Map<string, Tenant>();
  private readonly byKeyHash = new Map<string, Tenant>();
  private readonly eventSecrets = new Map<string, string>();
  private readonly callbackSecrets = new Map<string, string>();

  static load(path: string, env: NodeJS.ProcessEnv = process.env): TenantDirectory {
    const file = loadDataFile(path, tenantsFileSchema, 'tenants');
    const directory = new TenantDirectory();
    for (const t of file.tenants) {
      if (directory.tenants.has(t.id)) throw new Error(`tenants file ${path}: tenant ${t.id} appears twice`);
      const tenant: Tenant = { id: t.id, sendRate: t.sendRate };
      directory.tenants.set(t.id, tenant);
      for (const key of t.apiKeys) {
        if (directory.byKeyHash.has(key.sha256)) {
          throw new Error(`tenants file ${path}: API key ${key.id} of ${t.id} is already another key`);
        }
        directory.byKeyHash.set(key.sha256, tenant);
      }
      for (const key of t.eventKeys) {
        directory.eventSecrets.set(
          `${t.id}\u0000${key.id}`,
          readSecret(key.secret, `tenant ${t.id} event key ${key.id}`, env),
        );
      }
      if (t.callbackSecret) {
        directory.callbackSecrets.set(
          t.id,
          readSecret(t.callbackSecret, `tenant ${t.id} callback secret`, env),
        );
      }
    }
    return directory;
  }

  /** The tenant owning an API key, if any. The lookup is by hash, so its timing says nothing of the key. */
  authenticate(apiKey: string): Tenant | undefined {
    return this.byKeyHash.get(hashApiKey(apiKey));
  }

  get(tenantId: string): Tenant | undefined {
    return this.tenants.get(tenantId);
  }

  eventSecret(tenantId: string, keyId: string): string | undefined {
    return this.eventSecrets.get(`${tenantId}\u0000${keyId}`);
  }

  callbackSecret(tenantId: string): string | undefined {
    return this.callbackSecrets.get(tenantId);
  }
}
