import type { RiskPolicy } from './policy';

/** The industry's standard opt-out keywords (CTIA, and what carriers honour worldwide), alone or first. */
const STOP = /^\s*(stop|stopall|unsubscribe|cancel|end|quit|opt[ -]?out)\b/iu;

export function isOptOutReply(body: string): boolean {
  return STOP.test(body);
}

/**
 * Whose marketing a reply to `sender` stops: that sender's, and every tenant that sends from it (its
 * registered, fallback or OTP senders in the policy). A marketing message is checked against the same scopes.
 */
export function optOutScopes(policy: RiskPolicy, sender: string, tenantId?: string): string[] {
  const scopes = new Set([`sender:${sender}`]);
  if (tenantId) scopes.add(`tenant:${tenantId}`);
  else {
    for (const [id, t] of Object.entries(policy.tenants)) {
      const senders = [
        ...Object.values(t.registeredSenders).flat(),
        ...Object.values(t.fallbackSenders),
        ...t.otpSenders,
      ];
      if (senders.includes(sender)) scopes.add(`tenant:${id}`);
    }
  }
  return [...scopes];
}
