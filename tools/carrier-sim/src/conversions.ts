import type { ConversionModel } from './scenario';
import type { Random } from './random';

/** Where and as whom the simulated users' conversions are reported: a tenant's backend on Tern's HTTP API. */
export interface ConversionReporting {
  /** Base URL of the HTTP/JSON API, e.g. http://127.0.0.1:8090. */
  apiUrl: string;
  /**
   * The API key of the tenant that sent the OTP with this client reference (one backend per tenant);
   * undefined where that tenant's backend reports no conversions.
   */
  apiKeyOf: (reference: string) => string | undefined;
  /** The client reference of an OTP, from its text (the backend knows which code it issued to whom). */
  referenceOf?: (text: string) => string | undefined;
}

/** Where the shipped traffic tools put a message's reference in its text. */
const REFERENCE_IN_TEXT = /\bref ([A-Za-z0-9._:-]+)/;

export const referenceInText = (text: string): string | undefined => REFERENCE_IN_TEXT.exec(text)?.[1];

/**
 * Whether the user of a delivered OTP uses its code, and how long after the message left the SMSC
 * (simulated ms): its time to the handset, then the user's typing. Undefined: the code is never used.
 */
export function drawConversion(
  model: ConversionModel,
  latencyMs: number,
  random: Random,
): number | undefined {
  const chance = model.rate * 0.5 ** (latencyMs / model.halfLife);
  if (random.next() >= chance) return undefined;
  return latencyMs + random.logNormal(model.delay.p50, model.delay.p95);
}

/**
 * Reports one conversion as a tenant's backend would: POST /v1/conversions by client reference, tried again
 * on a network error or a 5xx. Returns what became of it (`reported`, or why not).
 */
export async function reportConversion(apiUrl: string, apiKey: string, reference: string): Promise<string> {
  let outcome = 'not tried';
  for (let tryNo = 1; tryNo <= 3; tryNo++) {
    try {
      const response = await fetch(`${apiUrl}/v1/conversions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey },
        body: JSON.stringify({ clientReference: reference, convertedAt: new Date().toISOString() }),
      });
      await response.text();
      if (response.ok) return 'reported';
      outcome = `http ${response.status}`;
      if (response.status < 500) return outcome;
    } catch (error) {
      outcome = `error: ${(error as Error).message}`;
    }
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return outcome;
}
