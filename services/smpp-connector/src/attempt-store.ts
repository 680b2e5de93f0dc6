import { events } from '@tern/contracts';
import { TransientError } from '@tern/kafka';
import type { Redis } from 'ioredis';

export type Claim = { state: 'new' } | { state: 'in-doubt' } | { state: 'done'; result: events.SubmitResult };

const SUBMITTING = 'submitting';

/**
 * Idempotency of attempts towards carriers, shared by every connector instance: (message id, attempt) is
 * claimed right before its first submit_sm is written (not while it waits for a bind) and holds the outcome
 * afterwards. A redelivered dispatch (crash,
 * rebalance) finds the outcome and publishes it again instead of submitting; one that finds only the claim
 * was interrupted between submit_sm and its answer, and is never submitted again.
 */
export class AttemptStore {
  constructor(
    private readonly redis: Redis,
    private readonly ttlSeconds = 7 * 24 * 3600,
  ) {}

  private key(messageId: string, attempt: number): string {
    return `tern:smpp:attempt:${messageId}:${attempt}`;
  }

  /** What an earlier run left for this attempt, without claiming it. */
  async peek(messageId: string, attempt: number): Promise<Claim> {
    try {
      return this.read(await this.redis.getBuffer(this.key(messageId, attempt)));
    } catch (error) {
      throw new TransientError(`attempt store unavailable: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Claims the attempt right before its first submit_sm; false when another run holds or finished it. */
  async claim(messageId: string, attempt: number): Promise<boolean> {
    try {
      return (
        (await this.redis.set(this.key(messageId, attempt), SUBMITTING, 'EX', this.ttlSeconds, 'NX')) === 'OK'
      );
    } catch (error) {
      throw new TransientError(`attempt store unavailable: ${(error as Error).message}`, { cause: error });
    }
  }

  private read(value: Buffer | null): Claim {
    if (!value) return { state: 'new' };
    if (value.toString() === SUBMITTING) return { state: 'in-doubt' };
    return { state: 'done', result: events.SubmitResult.decode(value) };
  }

  async finish(result: events.SubmitResult): Promise<void> {
    try {
      const bytes = Buffer.from(events.SubmitResult.encode(result).finish());
      await this.redis.set(this.key(result.messageId, result.attempt), bytes, 'EX', this.ttlSeconds);
    } catch (error) {
      throw new TransientError(`attempt store unavailable: ${(error as Error).message}`, { cause: error });
    }
  }
}
