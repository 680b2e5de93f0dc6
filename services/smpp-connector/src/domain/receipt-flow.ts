/** A receipt write pending longer than this is stuck (Kafka away): see RECEIPT_FORWARD_LAG_MS. */
export const STUCK_FORWARD_MS = 1_000;
/**
 * How long an SMSC told to send a receipt again (ESME_RX_T_APPN) is given to do so. SMSCs retry on their own
 * schedules; until this has passed, that receipt may still be on its way.
 */
export const REFUSED_RECEIPT_RESEND_MS = 30_000;

/**
 * One channel's receipts between its SMSC and Kafka in this connector: since when every receipt it took
 * was written in time. dlr calls a receipt missing only once it has read what was written since then.
 */
export class ReceiptFlow {
  private readonly pending = new Map<number, number>();
  private next = 0;
  /** Trouble is over from this time on (a stuck write finished, or a refused receipt had time to return). */
  private troubleUntil: number;

  constructor(startedAt: number) {
    // Nothing this process takes can be written before it started.
    this.troubleUntil = startedAt;
  }

  /** A receipt taken from the SMSC: call written() or refused() on the returned handle once its write ends. */
  taken(now: number): { written: (at: number) => void; refused: (at: number) => void } {
    const id = this.next++;
    this.pending.set(id, now);
    return {
      written: (at) => {
        this.pending.delete(id);
        if (at - now > STUCK_FORWARD_MS) this.troubleUntil = Math.max(this.troubleUntil, at);
      },
      refused: (at) => {
        this.pending.delete(id);
        this.troubleUntil = Math.max(this.troubleUntil, at + REFUSED_RECEIPT_RESEND_MS);
      },
    };
  }

  /** Since when receipts have been written without trouble; undefined while in trouble now. */
  since(now: number): number | undefined {
    // The oldest pending write comes first (insertion order): it alone tells whether any is stuck.
    const oldest = this.pending.values().next();
    if (!oldest.done && now - oldest.value > STUCK_FORWARD_MS)
      this.troubleUntil = Math.max(this.troubleUntil, now);
    return this.troubleUntil < now ? this.troubleUntil : undefined;
  }
}
