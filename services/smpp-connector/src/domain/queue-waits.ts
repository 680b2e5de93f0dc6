/**
 * How long submissions wait on a channel before its SMSC takes them: the longest of the mean wait of those
 * that finished since the last look, how long the oldest one still waiting has been at it (a channel that
 * takes nothing finishes none), and how long a new one would wait behind those queued at the rate they
 * finished (a queue that has just begun to grow). Times are passed in; nothing here does I/O.
 */
export class QueueWaits {
  /** The submissions waiting, in the order they came (a Set keeps it): the first is the oldest. */
  private readonly waiting = new Set<{ since: number }>();
  private finishedMs = 0;
  private finished = 0;

  constructor(private lookedAt: number) {}

  /** Submissions outstanding: queued, or written and awaiting their answer. */
  get outstanding(): number {
    return this.waiting.size;
  }

  enter(now: number): { since: number } {
    const entry = { since: now };
    this.waiting.add(entry);
    return entry;
  }

  leave(entry: { since: number }, now: number): void {
    if (!this.waiting.delete(entry)) return;
    this.finishedMs += now - entry.since;
    this.finished++;
  }

  /**
   * The wait now, in ms, with `queued` submissions not yet written (beyond those awaiting their answer);
   * the next look counts only what finishes after this one.
   */
  take(now: number, queued = 0): number {
    const mean = this.finished > 0 ? this.finishedMs / this.finished : 0;
    const behind = this.finished > 0 ? (queued * (now - this.lookedAt)) / this.finished : 0;
    this.finishedMs = 0;
    this.finished = 0;
    this.lookedAt = now;
    const oldest = this.waiting.values().next().value;
    return Math.round(Math.max(mean, oldest ? now - oldest.since : 0, behind));
  }
}
