import { chooseEncoding, gsm7Length, SEGMENT_LIMITS, splitText, type TextEncoding } from './encoding';

/** How a body travels: its encoding, the number of SMS it costs, and its length in that encoding's units. */
export interface BodyPlan {
  encoding: Extract<TextEncoding, 'GSM7' | 'UCS2'>;
  segments: number;
  /** Septets (GSM 7-bit, extension characters count two) or UTF-16 units (UCS-2, emoji count two). */
  units: number;
}

export type BodyCheck =
  { ok: true; plan: BodyPlan } | { ok: false; code: 'INVALID_BODY'; description: string };

/**
 * Decides a body's encoding (GSM 03.38 7-bit with its extension table when every character fits, else
 * UCS-2) and its segment count (160/153 septets, 70/67 units), refusing what no SMS can carry.
 */
export function planBody(body: string, maxSegments: number): BodyCheck {
  if (body.length === 0) return { ok: false, code: 'INVALID_BODY', description: 'is empty' };
  if (/\p{Cs}/u.test(body)) {
    return {
      ok: false,
      code: 'INVALID_BODY',
      description: 'contains a lone UTF-16 surrogate (broken character)',
    };
  }
  if (body.includes('\u0000'))
    return { ok: false, code: 'INVALID_BODY', description: 'contains a NUL character' };
  const encoding = chooseEncoding(body) as BodyPlan['encoding'];
  const parts = splitText(body, encoding);
  const units = encoding === 'GSM7' ? gsm7Length(body) : body.length;
  if (parts.length > maxSegments) {
    const { single, part } = SEGMENT_LIMITS[encoding];
    return {
      ok: false,
      code: 'INVALID_BODY',
      description: `needs ${parts.length} SMS (${encoding === 'GSM7' ? 'GSM 7-bit' : 'UCS-2'}: ${single} in one, ${part} per part); at most ${maxSegments} allowed`,
    };
  }
  return { ok: true, plan: { encoding, segments: parts.length, units } };
}
