import { parsePhoneNumberWithError, ParseError, type NumberType } from 'libphonenumber-js/max';

/** A recipient number, normalised once at intake: everything downstream routes on these fields. */
export interface Recipient {
  /** E.164, `+` and digits. */
  e164: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** What the numbering plan says the range is; SMS needs `mobile` (or `fixed-or-mobile` where plans mix). */
  numberType: RecipientType;
  /** Destination carrier from number-range data, where a range matched. */
  carrier?: CarrierRange;
}

export type RecipientType = 'mobile' | 'fixed-or-mobile' | 'fixed' | 'other' | 'unknown';

export interface CarrierRange {
  /** Digits after the `+`: the longest matching prefix wins. */
  prefix: string;
  mccMnc: string;
  name: string;
}

export type RecipientError =
  | { code: 'NOT_E164'; description: string }
  | { code: 'INVALID_NUMBER'; description: string }
  | { code: 'NOT_MOBILE'; description: string };

/**
 * Number ranges to carriers (MCC+MNC), longest prefix first. Number portability makes this a best guess; a
 * deployment with an HLR/MNP lookup would refine it later in the pipeline.
 */
export class NumberRanges {
  private readonly byPrefix = new Map<string, CarrierRange>();
  private readonly lengths: number[];

  constructor(ranges: readonly CarrierRange[]) {
    for (const range of ranges) {
      if (!/^\d{1,15}$/.test(range.prefix)) throw new Error(`number range "${range.prefix}": digits only`);
      if (!/^\d{5,6}$/.test(range.mccMnc))
        throw new Error(`number range "${range.prefix}": MCC+MNC is 5-6 digits`);
      this.byPrefix.set(range.prefix, range);
    }
    this.lengths = [...new Set([...this.byPrefix.keys()].map((p) => p.length))].sort((a, b) => b - a);
  }

  lookup(e164: string): CarrierRange | undefined {
    const digits = e164.replace(/^\+/, '');
    for (const length of this.lengths) {
      const range = this.byPrefix.get(digits.slice(0, length));
      if (range) return range;
    }
    return undefined;
  }
}

const TYPES: Partial<Record<NumberType & string, RecipientType>> = {
  MOBILE: 'mobile',
  FIXED_LINE_OR_MOBILE: 'fixed-or-mobile',
  FIXED_LINE: 'fixed',
};

/**
 * Parses a recipient given in E.164 (libphonenumber's full metadata: validity and number type per range).
 * National formats are refused: a number without its country code is ambiguous across borders.
 */
export function parseRecipient(
  text: string,
  ranges?: NumberRanges,
): { ok: true; recipient: Recipient } | { ok: false; error: RecipientError } {
  const trimmed = text.trim();
  if (!/^\+[1-9]\d{6,14}$/.test(trimmed.replace(/[\s().-]/g, ''))) {
    return {
      ok: false,
      error: { code: 'NOT_E164', description: 'must be E.164: "+", country code and number, 8 to 15 digits' },
    };
  }
  let number;
  try {
    number = parsePhoneNumberWithError(trimmed);
  } catch (error) {
    const reason = error instanceof ParseError ? error.message : 'unreadable';
    return { ok: false, error: { code: 'INVALID_NUMBER', description: `not a phone number (${reason})` } };
  }
  if (!number.country || !number.isValid()) {
    return {
      ok: false,
      error: { code: 'INVALID_NUMBER', description: "no such number range in its country's numbering plan" },
    };
  }
  const numberType = number.getType();
  const type = numberType ? (TYPES[numberType] ?? 'other') : 'unknown';
  if (type === 'fixed' || type === 'other') {
    return {
      ok: false,
      error: {
        code: 'NOT_MOBILE',
        description: `a ${(numberType ?? '').toLowerCase().replace(/_/g, ' ')} number cannot receive SMS`,
      },
    };
  }
  const e164 = number.number;
  return {
    ok: true,
    recipient: { e164, country: number.country, numberType: type, carrier: ranges?.lookup(e164) },
  };
}
