import { events } from '@tern/contracts';

/** One step of a message's trace: a status event, the routing decision of an attempt, or a callback's try. */
export interface TraceEvent {
  kind: 'status' | 'routing' | 'callback';
  /** The status's name (ACCEPTED, ROUTED, DELIVERED...; for a callback, the status it told); empty for a decision. */
  status: string;
  attempt: number;
  channelId: string;
  reasonCode: string;
  /** A status's receipt state, error and callback; a decision's candidates and reason (proto3 JSON); a callback try's result. */
  detail: Record<string, unknown>;
  /** Epoch ms. */
  at: number;
}

/** One attempt as it ended (the `attempts` row). */
export interface AttemptStep {
  attempt: number;
  channelId: string;
  tier: string;
  status: string;
  reasonCode: string;
  receiptState: string;
  errorCode: string;
  cost: number;
  submitLatencyMs: number;
  deliveryLatencyMs: number;
  submittedAt: number;
  doneAt: number;
}

export interface MessageSummary {
  messageId: string;
  tenantId: string;
  clientReference: string;
  firstAt: number;
  lastStatus: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const PHONE = /^\+?[0-9][0-9 ().-]{5,}$/;

/**
 * What a search box holds: a message id (a UUID), a recipient (a phone number, E.164 with or without `+`
 * and separators, looked up by its keyed hash), or else a client reference.
 */
export function traceQuery(
  text: string,
): { messageId: string } | { recipient: string } | { clientReference: string } | undefined {
  const q = text.trim();
  if (!q) return undefined;
  if (UUID.test(q)) return { messageId: q.toLowerCase() };
  if (PHONE.test(q)) return { recipient: `+${q.replace(/[^0-9]/g, '')}` };
  return { clientReference: q };
}

/** A routing row's detail (proto3 JSON of a RoutingDecision) read back, missing fields as their defaults. */
export function decisionOf(detail: Record<string, unknown>): events.RoutingDecision {
  return events.RoutingDecision.fromJSON(detail);
}

/**
 * Why an attempt went to its channel, in a sentence: the router's reason, the chosen channel's score
 * against the runner-up's, what was left out, and what risk noted on approving the message.
 */
export function explainDecision(channelId: string, decision: events.RoutingDecision): string {
  const eligible = decision.candidates.filter((c) => !c.excludedBecause).sort((a, b) => b.score - a.score);
  const excluded = decision.candidates.filter((c) => c.excludedBecause);
  const chosen = eligible.find((c) => c.channelId === channelId);
  const parts = [`${channelId}: ${decision.reason || 'chosen by the router'}`];
  if (chosen) {
    const next = eligible.find((c) => c.channelId !== channelId);
    parts.push(
      `score ${chosen.score.toFixed(3)} (delivery ${(100 * chosen.deliveryProbability).toFixed(1)}%, ` +
        `${(chosen.expectedLatencyMs / 1000).toFixed(1)} s expected, ${chosen.pricePerSegment} per segment)` +
        (next ? ` against ${next.channelId} at ${next.score.toFixed(3)}` : ', the only eligible channel'),
    );
  }
  if (excluded.length > 0) {
    parts.push(`left out: ${excluded.map((c) => `${c.channelId} (${c.excludedBecause})`).join(', ')}`);
  }
  if (decision.riskNotes.length > 0) parts.push(`risk: ${decision.riskNotes.join('; ')}`);
  return parts.join('; ');
}
