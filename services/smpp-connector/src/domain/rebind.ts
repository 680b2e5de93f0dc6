/** The first wait's ceiling, doubled after each failed bind. */
const FIRST_WAIT_MS = 250;
/** The longest a down bind ever waits between attempts. */
const LONGEST_WAIT_MS = 30_000;

/**
 * The ceiling of the random wait before a down bind's next attempt (the wait is drawn below it, full jitter,
 * so binds of many connectors do not come back in lockstep). It doubles with each failed attempt, and is
 * never more than half as long as the bind has been down: a short outage's binds come back within half its
 * length of its end (by attempts alone, a 2.5 s outage could leave one down 10 s), a long one's about every
 * 15 s.
 */
export function rebindWaitCeilingMs(failedAttempts: number, downForMs: number): number {
  const doubled = FIRST_WAIT_MS * 2 ** Math.min(failedAttempts, 7);
  return Math.min(LONGEST_WAIT_MS, doubled, Math.max(FIRST_WAIT_MS, downForMs / 2));
}
