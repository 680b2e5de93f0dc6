/**
 * The numbers an SMSC message id may stand for. SMSCs answer submit_sm in one base and report receipts in
 * another (decimal in `submit_sm_resp`, hex in the receipt, or the reverse), so a submitted id and a
 * receipt's id match when they share a reading: an all-digit id reads as decimal and as hex, an id with
 * hex letters only as hex, and anything else (UUIDs, mixed text) only as itself, case folded.
 * Leading zeros and case do not matter. Within one channel two different messages sharing a reading would
 * need ids like "10" and "16", which one SMSC's own numbering does not produce side by side.
 */
export function smscIdReadings(id: string): string[] {
  const text = id.trim().toLowerCase();
  if (/^\d{1,30}$/.test(text)) {
    const decimal = BigInt(text).toString(10);
    const hex = BigInt(`0x${text}`).toString(10);
    return decimal === hex ? [decimal] : [decimal, hex];
  }
  if (/^[0-9a-f]{1,30}$/.test(text)) return [BigInt(`0x${text}`).toString(10)];
  return [`text:${text}`];
}

/** Whether a receipt's id names the submitted id. */
export function sameSmscId(submitted: string, reported: string): boolean {
  const readings = new Set(smscIdReadings(submitted));
  return smscIdReadings(reported).some((r) => readings.has(r));
}
