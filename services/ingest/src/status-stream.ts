import { sms } from '@tern/contracts';
import type { Redis } from 'ioredis';

const CURSOR = /^\d{1,20}-\d{1,20}$/;
/** Events read from Redis at a time: also the most a StreamStatusBatches response carries. */
const BATCH_EVENTS = 500;

export class CursorError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'expired',
  ) {
    super(message);
  }
}

export type StartFrom = { cursor: string } | { since: Date };

/** Throws CursorError for a cursor this API cannot have returned: checked before the call takes anything. */
export function checkStartFrom(from: StartFrom): void {
  if ('cursor' in from && !CURSOR.test(from.cursor)) {
    throw new CursorError('cursor: not a cursor this API returned', 'invalid');
  }
}

/**
 * Reads a tenant's status events from a start point, then follows new ones, on its own blocking Redis
 * connection. Each event carries its cursor (the stream entry id): resuming from it continues after it.
 */
export class StatusStreamReader {
  private closed = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly blockMs = 5000,
  ) {}

  close(): void {
    this.closed = true;
    this.redis.disconnect();
  }

  /** Where reading starts (exclusive); throws CursorError for a cursor past retention (checkStartFrom first). */
  async startAfter(from: StartFrom): Promise<string> {
    if ('since' in from) {
      const ms = from.since.getTime();
      return ms <= 0 ? '0-0' : `${ms - 1}-18446744073709551615`;
    }
    const [first] = (await this.redis.xrange(this.key, '-', '+', 'COUNT', 1)) as [string, string[]][];
    if (first && compareIds(from.cursor, first[0]) < 0) {
      throw new CursorError(
        'cursor: older than the events still kept; resume with `since` (events may have been missed)',
        'expired',
      );
    }
    return from.cursor;
  }

  /**
   * Events after `after`, then live, until close(): as many at a time as Redis had ready (up to
   * BATCH_EVENTS), each with its cursor.
   */
  async *follow(after: string): AsyncGenerator<sms.StatusEvent[]> {
    let last = after;
    while (!this.closed) {
      let reply: [Buffer, [Buffer, Buffer[]][]][] | null;
      try {
        reply = await this.redis.xreadBuffer(
          'COUNT',
          BATCH_EVENTS,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          this.key,
          last,
        );
      } catch (error) {
        if (this.closed) return;
        throw error;
      }
      const batch: sms.StatusEvent[] = [];
      for (const [, entries] of reply ?? []) {
        for (const [id, fields] of entries) {
          last = id.toString();
          const value = fields[1];
          if (value) batch.push({ ...sms.StatusEvent.decode(value), cursor: last });
        }
      }
      if (batch.length > 0) yield batch;
    }
  }
}

function compareIds(a: string, b: string): number {
  const [am = 0n, as = 0n] = a.split('-').map(BigInt);
  const [bm = 0n, bs = 0n] = b.split('-').map(BigInt);
  return am === bm ? Number(as - bs) : am < bm ? -1 : 1;
}
