import { events } from '@tern/contracts';
import { TransientError } from '@tern/kafka';
import type { Redis } from 'ioredis';

export type Claim = { state: 'new' } | { state: 'in-doubt' } | { state: 'done'; result: events.SubmitResult };

const SUBMITTING = 'submitting';

/**
 * Idempotency of attempts towards carriers, shared by every connector instance: (message id, attempt) is
 * claimed before the first submit_sm and holds the outcome afterwards. A redelivered dispatch (crash,
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

  async claim(messageId: string, attempt: number): Promise<Claim> {
    const key = this.key(messageId, attempt);
    try {
      const won = await this.redis.set(key, SUBMITTING, 'EX', this.ttlSeconds, 'NX');
      if (won === 'OK') return { state: 'new' };
      const value = await this.redis.getBuffer(key);
      if (!value || value.toString() === SUBMITTING) return { state: 'in-doubt' };
      return { state: 'done', result: events.SubmitResult.decode(value) };
    } catch (error) {
      throw new TransientError(`attempt store unavailable: ${(error as Error).message}`, { cause: error });
    }
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
