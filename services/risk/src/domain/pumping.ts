import type { PumpingPolicy } from './policy';

/** What risk knows of one tenant's OTPs to one number range. */
export interface RangeConversions {
  /** OTPs sent to the range within the window and old enough for their codes to have been used. */
  judged: number;
  /** Conversions reported for OTPs to the range within the window. */
  converted: number;
  /** Whether the tenant reported any conversion within the window (else conversions say nothing). */
  tenantReports: boolean;
}

export type PumpingVerdict =
  | { kind: 'clear' }
  /** The range looks pumped: refuse (`enforce`) or record what would have been refused (`monitor`). */
  | { kind: 'pumped'; mode: 'monitor' | 'enforce'; description: string };

/**
 * Whether a tenant's OTPs to a number range are SMS pumping: plenty of them sent, old enough to be used,
 * and almost none used. Pure: the counts come from RiskState.
 */
export function pumpingVerdict(
  range: RangeConversions,
  prefix: string,
  policy: PumpingPolicy,
  mode: PumpingPolicy['mode'],
): PumpingVerdict {
  if (mode === 'off' || !range.tenantReports || range.judged < policy.minOtps) return { kind: 'clear' };
  const rate = Math.min(1, range.converted / range.judged);
  if (rate > policy.maxConversionRate) return { kind: 'clear' };
  return {
    kind: 'pumped',
    mode,
    // "OTPs to +<range>…" is how analytics finds the range in the refusal's reason (pumpingBlocks).
    description: `${range.converted} of ${range.judged} OTPs to +${prefix}… within ${policy.windowSeconds} s were used (at most ${(100 * policy.maxConversionRate).toFixed(0)}% is pumping)`,
  };
}
