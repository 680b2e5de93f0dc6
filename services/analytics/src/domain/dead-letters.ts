/** A record that failed again after this many replays is not replayed: its cause needs a fix, not a retry. */
export const MAX_REPLAYS = 3;

/** Why a dead letter may not be replayed, or undefined when it may. */
export function replayRefusal(letter: {
  sourceTopic: string;
  replays: number;
  replayedAt: Date | undefined;
}): string | undefined {
  if (letter.replayedAt) return `replayed already, at ${letter.replayedAt.toISOString()}`;
  if (letter.sourceTopic === '') return 'the record names no source topic of this DLQ';
  if (letter.replays >= MAX_REPLAYS) {
    return `failed again after ${letter.replays} replays: fix its cause instead of replaying it into a loop`;
  }
  return undefined;
}
