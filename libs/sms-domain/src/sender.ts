/** The three kinds of sender ID carriers know, and what each sets in SMPP (source TON/NPI). */
export type SenderKind = 'alphanumeric' | 'shortcode' | 'international';

export type SenderCheck =
  { ok: true; kind: SenderKind; sender: string } | { ok: false; code: 'INVALID_SENDER'; description: string };

const ALPHANUMERIC = /^[A-Za-z0-9][A-Za-z0-9 .&_-]{1,9}[A-Za-z0-9.]$/;

/**
 * Classifies a sender ID: an E.164 long number (`+` and 8-15 digits), a short code (3-8 digits), or an
 * alphanumeric ID of 3-11 characters from the set every carrier accepts (letters, digits, space, `.&_-`,
 * at least one letter). Whether a country allows that kind is the risk service's question, not this one.
 */
export function checkSender(text: string): SenderCheck {
  const sender = text.trim();
  if (sender === '') return { ok: false, code: 'INVALID_SENDER', description: 'is required' };
  if (sender.startsWith('+')) {
    return /^\+[1-9]\d{7,14}$/.test(sender)
      ? { ok: true, kind: 'international', sender }
      : {
          ok: false,
          code: 'INVALID_SENDER',
          description: 'a long number must be E.164: "+" and 8-15 digits',
        };
  }
  if (/^\d+$/.test(sender)) {
    return sender.length >= 3 && sender.length <= 8
      ? { ok: true, kind: 'shortcode', sender }
      : {
          ok: false,
          code: 'INVALID_SENDER',
          description: 'a short code has 3-8 digits; a longer number must be E.164 with "+"',
        };
  }
  if (sender.length < 3 || sender.length > 11) {
    return { ok: false, code: 'INVALID_SENDER', description: 'an alphanumeric sender has 3-11 characters' };
  }
  if (!ALPHANUMERIC.test(sender) || !/[A-Za-z]/.test(sender)) {
    return {
      ok: false,
      code: 'INVALID_SENDER',
      description:
        'an alphanumeric sender uses letters, digits, space and . & _ - only, with at least one letter',
    };
  }
  return { ok: true, kind: 'alphanumeric', sender };
}
